// The schema of `cutover.yml`: the single source of truth of the file's type. Every object is
// strict (an unknown key is an error, usually a typo). Defaults are applied here, except the
// ones that depend on the app/environment names (see resolvePlan in ./load). Each seam's
// schema maps what an operator writes onto the contract's shape (durations to ms, `{nginx:
// {...}}` to `{kind: 'nginx', ...}`), once, and TypeScript checks the result against it.
import { z } from 'zod';
import ms from 'ms';
import { cronProblem, isValidTimezone, parseLocalTime } from '../activities/freeze/calendar';
import { APPROVAL_POINTS, type ApprovalPolicy } from '../contract/approval';
import { ON_FREEZE, type FreezeWindow } from '../contract/freeze';
import { safeName as nameSchema } from '../contract/names';
import { sitesSchema } from './sites';
import { albConfigSchema, awsConfigSchema, cloudwatchConfigSchema, cloudwatchMetric, shapeProblems } from './aws';
import { COMPARATORS, type CanaryStep, type FailIf, type HealthSpec, type MetricSpec, type StrategySpec } from '../contract/spec';

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

/** A duration, read as ms. Give defaults with `.prefault("10s")` so they are read the same way. */
export const durationSchema = (opts: { positive?: boolean } = {}) =>
  z
    .custom<Duration>()
    .superRefine((value, ctx) => {
      const n = parseDuration(value);
      if (n === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration like "500ms", "10s", "60m" or "1h", got ${JSON.stringify(value) ?? 'nothing'}`,
        });
      } else if (opts.positive && n === 0) {
        ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
      }
    })
    .transform((value) => parseDuration(value) ?? 0);

const portSchema = z.number().int().min(1).max(65535);

export const hostSchema = z.strictObject({
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
    timeout: durationSchema({ positive: true }).prefault('500ms'),
    interval: durationSchema().prefault('1s'),
    attempts: z.number().int().min(1).default(10),
  })
  .prefault({})
  .transform(
    (h): HealthSpec => ({ path: h.path, expectStatus: h.expectStatus, timeoutMs: h.timeout, intervalMs: h.interval, attempts: h.attempts }),
  );

const verifySchema = z
  .strictObject({
    requests: z.number().int().min(1).default(5),
    versionHeader: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { message: 'must be an HTTP header name like X-App-Version' })
      .default('X-App-Version'),
  })
  .prefault({});

// ---- strategy: blue-green (default) or canary ------------------------------------------------

const FAIL_IF_RE = new RegExp(`^\\s*(${[...COMPARATORS].sort((a, b) => b.length - a.length).map((c) => c.replace(/[=!<>]/g, (x) => `\\${x}`)).join('|')})\\s*(-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?)\\s*$`);

/** `"> 0.01"` → `{ op: '>', value: 0.01 }`. */
export function parseFailIf(text: string): FailIf | undefined {
  const m = FAIL_IF_RE.exec(text);
  return m ? { op: m[1] as FailIf['op'], value: Number(m[2]) } : undefined;
}

const failIfSchema = z.string().transform((text, ctx): FailIf => {
  const f = parseFailIf(text);
  if (!f) {
    ctx.addIssue({ code: 'custom', message: `expected a comparison like "> 0.01" (one of ${COMPARATORS.join(' ')} and a number), got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return f;
});

const metricSchema = z
  .strictObject({
    name: nameSchema,
    prometheus: z
      .strictObject({
        url: z.string().regex(/^https?:\/\/\S+$/, { message: 'expected an http(s) URL like http://prometheus:9090' }),
        query: z.string().min(1),
      })
      .optional(),
    http: z
      .strictObject({
        url: templateSchema(['address', 'port', 'host']).refine((u) => /^https?:\/\/\S+$/.test(u), { message: 'expected an http(s) URL like http://{{address}}:{{port}}/health/deep' }),
        expectStatus: z.number().int().min(100).max(599).default(200),
        timeout: durationSchema({ positive: true }).prefault('2s'),
      })
      .optional(),
    /** A metric of the canary's target group in CloudWatch (aws platform with router.alb). */
    cloudwatch: cloudwatchConfigSchema(() => durationSchema({ positive: true })).optional(),
    failIf: failIfSchema.optional(),
  })
  .transform((m, ctx): MetricSpec => {
    if (m.cloudwatch) {
      if (m.prometheus || m.http) ctx.addIssue({ code: 'custom', message: 'give the metric exactly one of prometheus, http or cloudwatch' });
      else if (!m.failIf) ctx.addIssue({ code: 'custom', path: ['failIf'], message: 'a cloudwatch metric needs failIf, e.g. "> 0.01"' });
      else return cloudwatchMetric(m.name, m.cloudwatch, m.failIf);
      return z.NEVER;
    }
    if (m.prometheus && !m.http) {
      if (m.failIf) return { kind: 'prometheus', name: m.name, url: m.prometheus.url, query: m.prometheus.query, failIf: m.failIf };
      ctx.addIssue({ code: 'custom', path: ['failIf'], message: 'a prometheus metric needs failIf, e.g. "> 0.01"' });
    } else if (m.http && !m.prometheus) {
      if (!m.failIf) return { kind: 'http', name: m.name, url: m.http.url, expectStatus: m.http.expectStatus, timeoutMs: m.http.timeout };
      ctx.addIssue({ code: 'custom', path: ['failIf'], message: 'an http metric passes on http.expectStatus; failIf does not apply' });
    } else {
      ctx.addIssue({ code: 'custom', message: 'give the metric exactly one of prometheus: {url, query}, http: {url} or cloudwatch: {metric, stat}' });
    }
    return z.NEVER;
  });

const isEmptyObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

/** A duration (ms), or {} to wait for `cutover promote` (undefined). */
const pauseSchema = z
  .custom<Duration | Record<string, never>>()
  .superRefine((value, ctx) => {
    if (!isEmptyObject(value) && parseDuration(value) === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "5m", or {} to wait for cutover promote, got ${JSON.stringify(value) ?? 'nothing'}` });
    }
  })
  .transform((value) => (isEmptyObject(value) ? undefined : parseDuration(value)));

const canaryStepSchema = z
  .strictObject({
    weight: z.number().int().min(0).max(100).optional(),
    pause: pauseSchema.optional(),
  })
  .transform((s, ctx): CanaryStep => {
    if (s.weight === undefined && !('pause' in s)) {
      ctx.addIssue({ code: 'custom', message: 'a step needs a weight, a pause, or both, e.g. {weight: 5, pause: 5m}' });
      return z.NEVER;
    }
    return {
      ...(s.weight !== undefined ? { weight: s.weight } : {}),
      ...('pause' in s ? { pause: s.pause === undefined ? {} : { durationMs: s.pause } } : {}),
    };
  });

const canarySchema = z.strictObject({
  steps: z
    .array(canaryStepSchema)
    .min(1, { message: 'add at least one step, e.g. [{weight: 5, pause: 5m}, {weight: 100}]' })
    .superRefine((steps, ctx) => {
      let last = 0;
      steps.forEach((s, i) => {
        if (s.weight === undefined) return;
        if (s.weight < last) ctx.addIssue({ code: 'custom', path: [i, 'weight'], message: `${s.weight} is less than the step before (${last}); weights only grow` });
        last = s.weight;
      });
    }),
  analysis: z
    .strictObject({
      interval: durationSchema({ positive: true }).prefault('30s'),
      failureLimit: z.number().int().min(1).default(1),
      inconclusiveLimit: z.number().int().min(1).default(3),
      metrics: z.array(metricSchema).default([]),
    })
    .prefault({}),
});

const strategySchema = z
  .preprocess(
    (v) => (v === 'blueGreen' ? { blueGreen: {} } : v === 'canary' ? { canary: undefined } : v),
    z.strictObject({ blueGreen: z.strictObject({}).optional(), canary: canarySchema.optional() }),
  )
  .optional()
  .transform((s, ctx): StrategySpec => {
    if (s && 'canary' in s && !s.canary) {
      ctx.addIssue({ code: 'custom', path: ['canary'], message: 'a canary needs its steps, e.g. {canary: {steps: [{weight: 5, pause: 5m}, {weight: 100}]}}' });
      return z.NEVER;
    }
    if (s?.blueGreen && s.canary) {
      ctx.addIssue({ code: 'custom', message: 'choose one strategy: blueGreen or canary' });
      return z.NEVER;
    }
    if (!s?.canary) return { kind: 'blueGreen' };
    const { steps, analysis } = s.canary;
    return {
      kind: 'canary',
      steps,
      analysis: { intervalMs: analysis.interval, failureLimit: analysis.failureLimit, inconclusiveLimit: analysis.inconclusiveLimit, metrics: analysis.metrics },
    };
  });

// ---- freeze windows ----------------------------------------------------------------------------

const timezoneSchema = z.string().refine(isValidTimezone, { message: 'unknown time zone; use an IANA name like Europe/Berlin or America/New_York' });

/** `{name, cron, duration, timezone}` (recurring) or `{name, from, to, timezone}` (one-off). */
const freezeWindowSchema = z
  .strictObject({
    name: z.string().min(1).max(100),
    timezone: timezoneSchema,
    cron: z.string().min(1).optional(),
    duration: durationSchema({ positive: true }).optional(),
    from: z.string().optional(),
    to: z.string().optional(),
  })
  .transform((w, ctx): FreezeWindow => {
    const recurring = w.cron !== undefined || w.duration !== undefined;
    const oneOff = w.from !== undefined || w.to !== undefined;
    if (recurring === oneOff) {
      ctx.addIssue({ code: 'custom', message: 'give either cron and duration (a recurring window) or from and to (a one-off window), e.g. {name: weekend, cron: "0 18 * * FRI", duration: 62h, timezone: Europe/Berlin}' });
      return z.NEVER;
    }
    if (recurring) {
      if (w.cron === undefined) ctx.addIssue({ code: 'custom', path: ['cron'], message: 'missing; when the window opens, e.g. "0 18 * * FRI"' });
      if (w.duration === undefined) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'missing; how long the window stays closed, e.g. 62h' });
      const problem = w.cron !== undefined ? cronProblem(w.cron) : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: ['cron'], message: `not a cron expression (${problem}); five fields: minute hour day-of-month month day-of-week, e.g. "0 18 * * FRI"` });
      if (w.cron === undefined || w.duration === undefined || problem) return z.NEVER;
      return { kind: 'recurring', name: w.name, timezone: w.timezone, cron: w.cron, durationMs: w.duration };
    }
    const bounds: Partial<Record<'from' | 'to', number>> = {};
    for (const key of ['from', 'to'] as const) {
      const text = w[key];
      const at = text === undefined ? undefined : parseLocalTime(text, w.timezone);
      if (at === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${text === undefined ? 'missing' : `${JSON.stringify(text)} is not a local time`}; write "YYYY-MM-DD HH:MM", e.g. "2026-12-20 00:00"` });
      else bounds[key] = at;
    }
    if (bounds.from !== undefined && bounds.to !== undefined && bounds.to <= bounds.from) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `${w.to} is not after from (${w.from}); the window must end after it starts` });
    }
    if (bounds.from === undefined || bounds.to === undefined || bounds.to <= bounds.from) return z.NEVER;
    return { kind: 'oneOff', name: w.name, timezone: w.timezone, from: w.from!.trim(), to: w.to!.trim() };
  });

const freezeWindowsSchema = z.array(freezeWindowSchema).superRefine((windows, ctx) => {
  const seen = new Set<string>();
  windows.forEach((w, i) => {
    if (seen.has(w.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${w.name}" is already the name of another window; give each its own` });
    seen.add(w.name);
  });
});

// ---- approvals --------------------------------------------------------------------------------

const approvalSchema = z
  .strictObject({
    required: z.number().int().min(1).default(1),
    approvers: z.array(z.string().min(1).max(100)).min(1, { message: 'name at least one approver' }),
    allowSelfApproval: z.boolean().default(false),
    timeout: durationSchema({ positive: true }).prefault('4h'),
    before: z.enum(APPROVAL_POINTS).default('switch'),
  })
  .superRefine((a, ctx) => {
    if (new Set(a.approvers).size !== a.approvers.length) ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'names an approver twice' });
    if (a.required > a.approvers.length) {
      ctx.addIssue({ code: 'custom', path: ['required'], message: `${a.required} approvals can never come from ${a.approvers.length} approver(s); lower required or add approvers` });
    }
  })
  .transform((a): ApprovalPolicy => ({ required: a.required, approvers: a.approvers, allowSelfApproval: a.allowSelfApproval, timeoutMs: a.timeout, before: a.before }));

const environmentSchema = z
  .strictObject({
    hosts: z.array(hostSchema).min(1, { message: 'add at least one host' }).optional(),
    slots: slotsSchema.optional(),
    /** The AWS platform (CodeDeploy into a deployment group per colour), with router.alb. */
    aws: awsConfigSchema(() => durationSchema({ positive: true })).optional(),
    router: z.strictObject({ nginx: nginxSchema.optional(), alb: albConfigSchema.optional() }),
    strategy: strategySchema,
    healthCheck: healthCheckSchema,
    verify: verifySchema,
    teardownDelay: durationSchema().prefault('60m'),
    slack: z.strictObject({ channel: z.string().min(1) }).optional(),
    /** This environment's freeze windows, on top of the file's `freezes`. */
    freezes: freezeWindowsSchema.default([]),
    onFreeze: z.enum(ON_FREEZE).default('reject'),
    breakGlass: z.strictObject({ approvers: z.array(z.string().min(1).max(100)).min(1, { message: 'name at least one approver' }) }).optional(),
    /** How long before a scheduled deploy its Slack thread says it is coming. */
    scheduleNotice: durationSchema().prefault('15m'),
    approval: approvalSchema.optional(),
  })
  .superRefine((env, ctx) => {
    for (const p of shapeProblems(env)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
    if (env.slots && env.slots.blue.port === env.slots.green.port) {
      ctx.addIssue({
        code: 'custom',
        path: ['slots', 'green', 'port'],
        message: `${env.slots.green.port} is already used by slots.blue.port; give each colour its own port`,
      });
    }
    const names = new Map<string, number>();
    const endpoints = new Map<string, number>();
    env.hosts?.forEach((h, i) => {
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

/**
 * TLS to the Temporal frontend. The section's presence turns TLS on (`{}`: the system's CAs);
 * relative paths are read from the directory of cutover.yml. Maps onto @temporalio/envconfig's
 * TLS settings (config/temporal.ts).
 */
const temporalTlsSchema = z
  .strictObject({
    enabled: z.boolean().optional(),
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    serverName: z.string().min(1).optional(),
    disableHostVerification: z.boolean().optional(),
  })
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      const [set, missing] = tls.certFile !== undefined ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
      ctx.addIssue({ code: 'custom', path: [missing], message: `missing: mTLS needs both certFile and keyFile (${set} is set)` });
    }
    if (tls.disableHostVerification === true) {
      ctx.addIssue({
        code: 'custom',
        path: ['disableHostVerification'],
        message: "the Temporal TypeScript SDK 1.24 cannot skip host verification; set serverName to a name in the server's certificate instead",
      });
    }
  });

/** An environment variable's name: where the API key is read from (the key itself never goes in the file). */
export const envVarNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be the name of an environment variable, like TEMPORAL_API_KEY (never the key itself)' });

export const temporalSchema = z.strictObject({
  address: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  uiUrl: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL like http://127.0.0.1:8233' }).optional(),
  /** A profile of the Temporal config file (TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml). */
  profile: z.string().min(1).optional(),
  tls: temporalTlsSchema.optional(),
  apiKeyEnv: envVarNameSchema.optional(),
});

/** The audit log: with this section, every environment's operations are written to PostgreSQL by the worker. */
export const auditSchema = z.strictObject({
  /** Where `cutover audit` reads (the worker writes to its own DATABASE_URL); the password comes from PGPASSWORD, never the file. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, { message: 'expected a PostgreSQL URL like postgres://cutover@db.internal:5432/cutover' })
    .refine((u) => !/^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(u), { message: 'holds a password: remove it and set PGPASSWORD in the environment instead' })
    .optional(),
});

export const configSchema = z.strictObject({
  temporal: temporalSchema.optional(),
  audit: auditSchema.optional(),
  /** Freeze windows of every environment. */
  freezes: freezeWindowsSchema.default([]),
  /** Approver names as Slack user ids, for the Approve / Reject buttons (`cutover slack-gateway`). */
  slackUsers: z
    .record(z.string().min(1).max(100), z.string().regex(/^[UW][A-Z0-9]{2,}$/, { message: 'expected a Slack user id like U0123ABCD (profile → ⋮ → Copy member ID)' }))
    .default({}),
  apps: z.record(nameSchema, appSchema).refine((r) => Object.keys(r).length > 0, { message: 'add at least one app' }),
  /** Disaster-recovery failover: services with a primary and a standby site (config/sites.ts). */
  sites: z.lazy(() => sitesSchema).optional(),
});

/** The parsed file, with defaults applied. */
export type Config = z.output<typeof configSchema>;
/** What an operator may write. */
export type ConfigInput = z.input<typeof configSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type TemporalConfig = z.output<typeof temporalSchema>;
