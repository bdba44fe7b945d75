// The schema of `cutover.yml`: the single source of truth of the file's type. Every object is
// strict (an unknown key is an error, usually a typo). Defaults are applied here, except the
// ones that depend on the app/environment names (see resolvePlan in ./load).
import { z } from 'zod';
import ms from 'ms';
import { SAFE_NAME } from '../workflows/plan';

export const NAME_RULE = 'must match ^[A-Za-z0-9._-]{1,128}$ (letters, digits, dot, underscore, dash)';
const nameSchema = z.string().regex(SAFE_NAME, { message: NAME_RULE });

/** Placeholders an operator may use in commands and paths. */
export const PLACEHOLDERS = ['version', 'color', 'port', 'host', 'address'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER_RE = /\{\{([^{}]*)\}\}/g;
/** Where the host is concerned but no slot: router paths and commands, the slot address. */
const HOST_ONLY: readonly Placeholder[] = ['host', 'address'];

/** The placeholders of a template that cutover would not know how to fill there. */
export function unknownPlaceholders(template: string, known: readonly string[] = PLACEHOLDERS): string[] {
  const bad: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const name = (m[1] ?? '').trim();
    if (!known.includes(name)) bad.push(m[0]);
  }
  return bad;
}

const templateSchema = (known: readonly Placeholder[] = PLACEHOLDERS) =>
  z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      for (const p of unknownPlaceholders(value, known)) {
        ctx.addIssue({
          code: 'custom',
          message: `placeholder ${p} cannot be used here; allowed: ${known.map((n) => `{{${n}}}`).join(', ') || 'none'}`,
        });
      }
    });

/** A duration as the `ms` package reads it ("500ms", "10s", "60m", "1h"), or a number of ms. */
export type Duration = string | number;

export function parseDuration(value: unknown): number | undefined {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && value.trim() !== '' && value.length <= 100) {
    n = ms(value.trim() as ms.StringValue) as number | undefined;
  }
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.round(n) : undefined;
}

const durationSchema = (opts: { positive?: boolean } = {}) =>
  z.custom<Duration>().superRefine((value, ctx) => {
    const n = parseDuration(value);
    if (n === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like "500ms", "10s", "60m" or "1h", got ${JSON.stringify(value) ?? 'nothing'}`,
      });
    } else if (opts.positive && n === 0) {
      ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
    }
  });

const portSchema = z.number().int().min(1).max(65535);

const hostSchema = z.strictObject({
  name: nameSchema,
  address: z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.:_-]{1,253})$/, {
    message: 'must be a host name or an IP address (letters, digits, ".", ":", "_", "-")',
  }),
  port: portSchema.default(22),
  user: nameSchema,
  privateKeyPath: templateSchema([]),
  hostKey: z.string().regex(/^((ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}( .*)?|SHA256:[A-Za-z0-9+/]+={0,3})$/, {
    message: 'must be a public host key as in known_hosts ("ssh-ed25519 AAAA...") or its fingerprint ("SHA256:...")',
  }),
});

const slotsSchema = z.strictObject({
  address: templateSchema(HOST_ONLY).default('127.0.0.1'),
  blue: z.strictObject({ port: portSchema }),
  green: z.strictObject({ port: portSchema }),
  start: templateSchema(),
  // The version is not known when stopping whatever runs in a slot.
  stop: templateSchema(['color', 'port', 'host', 'address']),
  // Exits 0 when the version is on the host; run on every host before a deploy changes anything.
  installed: templateSchema(['version', 'host', 'address']).optional(),
  health: templateSchema().optional(),
});

const nginxSchema = z.strictObject({
  upstreamFile: templateSchema(HOST_ONLY),
  upstreamName: nameSchema.optional(),
  test: templateSchema(HOST_ONLY).default('nginx -t'),
  reload: templateSchema(HOST_ONLY).default('nginx -s reload'),
  url: templateSchema(HOST_ONLY)
    .refine((u) => /^https?:\/\/[^\s/]+(\/\S*)?$/.test(u), { message: 'expected an http(s) URL like http://127.0.0.1/ ({{address}} allowed)' })
    .default('http://127.0.0.1/'),
});

const healthCheckSchema = z
  .strictObject({
    path: z.string().startsWith('/', { message: 'must start with "/"' }).default('/health'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    timeout: durationSchema({ positive: true }).default('500ms'),
    interval: durationSchema().default('1s'),
    attempts: z.number().int().min(1).default(10),
  })
  .prefault({});

const verifySchema = z
  .strictObject({
    requests: z.number().int().min(1).default(5),
    versionHeader: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'must be an HTTP header name like X-App-Version' })
      .default('X-App-Version'),
  })
  .prefault({});

const environmentSchema = z
  .strictObject({
    hosts: z.array(hostSchema).min(1, { message: 'add at least one host' }),
    slots: slotsSchema,
    router: z.strictObject({ nginx: nginxSchema }),
    healthCheck: healthCheckSchema,
    verify: verifySchema,
    teardownDelay: durationSchema().default('60m'),
    slack: z.strictObject({ channel: z.string().min(1) }).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.slots.blue.port === env.slots.green.port) {
      ctx.addIssue({
        code: 'custom',
        path: ['slots', 'green', 'port'],
        message: `${env.slots.green.port} is already used by slots.blue.port; give each colour its own port`,
      });
    }
    const names = new Map<string, number>();
    const endpoints = new Map<string, number>();
    env.hosts.forEach((h, i) => {
      const sameName = names.get(h.name);
      if (sameName !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', i, 'name'],
          message: `"${h.name}" is already the name of hosts[${sameName}]; host names must be unique`,
        });
      } else names.set(h.name, i);
      const endpoint = `${h.address}:${h.port}`;
      const sameEndpoint = endpoints.get(endpoint);
      if (sameEndpoint !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['hosts', i, 'address'],
          message: `${endpoint} is already used by hosts[${sameEndpoint}]; each host needs its own address:port`,
        });
      } else endpoints.set(endpoint, i);
    });
  });

const appSchema = z.strictObject({
  environments: z
    .record(nameSchema, environmentSchema)
    .refine((r) => Object.keys(r).length > 0, { message: 'add at least one environment' }),
});

export const configSchema = z.strictObject({
  temporal: z
    .strictObject({
      address: z.string().min(1).optional(),
      namespace: z.string().min(1).optional(),
      uiUrl: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL like http://127.0.0.1:8233' }).optional(),
    })
    .optional(),
  apps: z.record(nameSchema, appSchema).refine((r) => Object.keys(r).length > 0, { message: 'add at least one app' }),
});

/** The parsed file, with defaults applied. */
export type Config = z.output<typeof configSchema>;
/** What an operator may write. */
export type ConfigInput = z.input<typeof configSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
