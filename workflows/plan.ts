// Workflow inputs: the resolved plan of one environment and the requests the environment
// workflow accepts. These zod schemas are the single source of truth for those types; the
// config loader produces a Plan, the CLI sends requests, the workflows validate them again.
import { z } from 'zod';

/** Anything that may reach a shell as a value: app, environment, host names, versions. */
export const SAFE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
export const safeName = z
  .string()
  .regex(SAFE_NAME, { message: 'must match ^[A-Za-z0-9._-]{1,128}$ (letters, digits, dot, underscore, dash)' });

export const COLORS = ['blue', 'green'] as const;
export const colorSchema = z.enum(COLORS);
export type Color = z.infer<typeof colorSchema>;
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

const port = z.number().int().min(1).max(65535);

export const hostSchema = z.strictObject({
  name: safeName,
  address: z.string().min(1),
  port,
  user: safeName,
  /** Path of the private key on the worker's machine; `~` and `${VAR}` are expanded there. */
  privateKeyPath: z.string().min(1),
  /** `ssh-ed25519 AAAA...` (as in known_hosts) or `SHA256:...` fingerprint. */
  hostKey: z.string().min(1),
});
export type HostSpec = z.infer<typeof hostSchema>;

export const slotsSchema = z.strictObject({
  /** Where the slots listen, as seen from the host's own nginx; may be `{{address}}`. */
  address: z.string().min(1).default('127.0.0.1'),
  blue: z.strictObject({ port }),
  green: z.strictObject({ port }),
  start: z.string().min(1),
  stop: z.string().min(1),
  /** Optional: exits 0 when `{{version}}` is on the host; checked on every host before anything changes. */
  installed: z.string().min(1).optional(),
  /** Optional health command run on the host; exit 0 means healthy. Default: HTTP check with curl. */
  health: z.string().min(1).optional(),
});
export type SlotsSpec = z.infer<typeof slotsSchema>;

export const routerSchema = z.strictObject({
  kind: z.literal('nginx'),
  /** The file nginx includes (http context); cutover owns it and writes one upstream block. */
  upstreamFile: z.string().min(1),
  upstreamName: safeName,
  test: z.string().min(1),
  reload: z.string().min(1),
  /** URL of the router as seen from the host itself, used to verify what it serves. */
  url: z.string().regex(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL, e.g. http://127.0.0.1/' }),
});
export type RouterSpec = z.infer<typeof routerSchema>;

export const healthSchema = z.strictObject({
  path: z.string().startsWith('/'),
  expectStatus: z.number().int().min(100).max(599),
  timeoutMs: z.number().int().positive(),
  intervalMs: z.number().int().nonnegative(),
  attempts: z.number().int().positive(),
});
export type HealthSpec = z.infer<typeof healthSchema>;

export const verifySchema = z.strictObject({
  requests: z.number().int().positive(),
  versionHeader: z.string().min(1),
});
export type VerifySpec = z.infer<typeof verifySchema>;

export const planSchema = z.strictObject({
  app: safeName,
  env: safeName,
  hosts: z.array(hostSchema).min(1),
  slots: slotsSchema,
  router: routerSchema,
  health: healthSchema,
  verify: verifySchema,
  teardownDelayMs: z.number().int().nonnegative(),
  slackChannel: z.string().min(1).optional(),
});
export type Plan = z.infer<typeof planSchema>;

export const triggerSchema = z.strictObject({
  source: z.enum(['gitlab', 'github', 'cli']),
  by: z.string().min(1),
  /** The stable key a retried CI job reproduces (pipeline / run id), if any. */
  key: z.string().optional(),
  url: z.string().optional(),
  commit: z.string().optional(),
});
export type Trigger = z.infer<typeof triggerSchema>;

export const deployRequestSchema = z.strictObject({
  deployId: z.string().min(1),
  version: safeName,
  plan: planSchema,
  trigger: triggerSchema,
});
export type DeployRequest = z.infer<typeof deployRequestSchema>;

export const rollbackRequestSchema = z.strictObject({
  rollbackId: z.string().min(1),
  plan: planSchema,
  trigger: triggerSchema,
});
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;

export const TASK_QUEUE = 'cutover';
export const envWorkflowId = (app: string, env: string): string => `env/${app}/${env}`;
