// The environment spec (what one environment is and how it deploys) and its seams as unions:
// `platform` (ssh hosts; later aws), `router` (nginx; later alb), `strategy` (blue-green,
// canary; later codedeploy). These zod schemas are the single source of truth for the types;
// the config loader maps cutover.yml onto them once, the workflows validate them again.
import { z } from 'zod';
import { approvalPolicySchema } from './approval';
import { albRouterSchema, awsPlatformSchema, cloudwatchMetricSchema } from './aws';
import { freezePolicySchema } from './freeze';
import { metricProblem, pairProblem } from './plan-kinds';
import { safeName } from './names';

export const COLORS = ['blue', 'green'] as const;
export const colorSchema = z.enum(COLORS);
export type Color = z.infer<typeof colorSchema>;
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');

const port = z.number().int().min(1).max(65535);

// ---- platform: ssh hosts with two slots each ---------------------------------------------

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

export const sshPlatformSchema = z.strictObject({
  kind: z.literal('ssh'),
  hosts: z.array(hostSchema).min(1),
  slots: slotsSchema,
});
export type SshPlatform = z.infer<typeof sshPlatformSchema>;

export const platformSchema = z.discriminatedUnion('kind', [sshPlatformSchema, awsPlatformSchema]);
export type PlatformSpec = z.infer<typeof platformSchema>;

// ---- router: nginx on each host -------------------------------------------------------------

export const nginxRouterSchema = z.strictObject({
  kind: z.literal('nginx'),
  /** The file nginx includes (http context); cutover owns it and writes one upstream block. */
  upstreamFile: z.string().min(1),
  upstreamName: safeName,
  test: z.string().min(1),
  reload: z.string().min(1),
  /** URL of the router as seen from the host itself, used to verify what it serves. */
  url: z.string().regex(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL, e.g. http://127.0.0.1/' }),
});
export type NginxRouter = z.infer<typeof nginxRouterSchema>;

export const routerSchema = z.discriminatedUnion('kind', [nginxRouterSchema, albRouterSchema]);
export type RouterSpec = z.infer<typeof routerSchema>;

// ---- checks ----------------------------------------------------------------------------------

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

// ---- strategy ----------------------------------------------------------------------------------

export const COMPARATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
export const failIfSchema = z.strictObject({ op: z.enum(COMPARATORS), value: z.number() });
export type FailIf = z.infer<typeof failIfSchema>;

/** A PromQL query run on a Prometheus server; `{{version}}`, `{{color}}`, `{{app}}`, `{{env}}`, `{{stableVersion}}` are filled. */
export const prometheusMetricSchema = z.strictObject({
  kind: z.literal('prometheus'),
  name: safeName,
  url: z.string().regex(/^https?:\/\/\S+$/),
  query: z.string().min(1),
  failIf: failIfSchema,
});
export type PrometheusMetric = z.infer<typeof prometheusMetricSchema>;

/** An HTTP request to the canary slot, made on each host: it passes when every host answers `expectStatus`. */
export const httpMetricSchema = z.strictObject({
  kind: z.literal('http'),
  name: safeName,
  /** May use `{{address}}` (the slots' address) and `{{port}}` (the canary slot's port). */
  url: z.string().min(1),
  expectStatus: z.number().int().min(100).max(599),
  timeoutMs: z.number().int().positive(),
});
export type HttpMetric = z.infer<typeof httpMetricSchema>;

export const metricSchema = z.discriminatedUnion('kind', [prometheusMetricSchema, httpMetricSchema, cloudwatchMetricSchema]);
export type MetricSpec = z.infer<typeof metricSchema>;

export const analysisSchema = z.strictObject({
  /** Measure every interval while a step pauses. */
  intervalMs: z.number().int().positive(),
  /** Consecutive failed measurements of one metric that abort the canary. */
  failureLimit: z.number().int().positive(),
  /** Consecutive inconclusive measurements of one metric (no data, Prometheus down) that abort it. */
  inconclusiveLimit: z.number().int().positive(),
  metrics: z.array(metricSchema),
});
export type AnalysisSpec = z.infer<typeof analysisSchema>;

/** A step sets the canary's share of traffic and/or pauses; a pause without `durationMs` waits for `cutover promote`. */
export const canaryStepSchema = z.strictObject({
  weight: z.number().int().min(0).max(100).optional(),
  pause: z.strictObject({ durationMs: z.number().int().nonnegative().optional() }).optional(),
});
export type CanaryStep = z.infer<typeof canaryStepSchema>;

export const blueGreenStrategySchema = z.strictObject({ kind: z.literal('blueGreen') });
export const canaryStrategySchema = z.strictObject({
  kind: z.literal('canary'),
  steps: z.array(canaryStepSchema).min(1),
  analysis: analysisSchema,
});
export type CanaryStrategy = z.infer<typeof canaryStrategySchema>;

export const strategySchema = z.discriminatedUnion('kind', [blueGreenStrategySchema, canaryStrategySchema]);
export type StrategySpec = z.infer<typeof strategySchema>;
export type StrategyKind = StrategySpec['kind'];

// ---- the whole environment ---------------------------------------------------------------

const planObject = z.strictObject({
  app: safeName,
  env: safeName,
  platform: platformSchema,
  router: routerSchema,
  strategy: strategySchema,
  health: healthSchema,
  verify: verifySchema,
  teardownDelayMs: z.number().int().nonnegative(),
  slackChannel: z.string().min(1).optional(),
  /** Freeze windows (the file's global ones and the environment's) and what a deploy does in one. */
  freeze: freezePolicySchema.optional(),
  /** How long before a scheduled deploy starts its Slack thread says so. */
  scheduleNoticeMs: z.number().int().nonnegative().optional(),
  /** Approvals a deploy waits for (production: before the switch). */
  approval: approvalPolicySchema.optional(),
  /** Write every operation to the audit log (the worker's DATABASE_URL). */
  audit: z.boolean().optional(),
});

/**
 * Plans recorded before the seams (histories, requests carried across continue-as-new) had
 * `hosts` and `slots` at the top and no strategy: read them as the ssh platform, blue-green.
 */
export function upgradeLegacyPlan(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || 'platform' in raw) return raw;
  const { hosts, slots, ...rest } = raw as Record<string, unknown>;
  if (hosts === undefined && slots === undefined) return raw;
  return { ...rest, platform: { kind: 'ssh', hosts, slots }, strategy: (rest as { strategy?: unknown }).strategy ?? { kind: 'blueGreen' } };
}

export const planSchema = z.preprocess(
  upgradeLegacyPlan,
  planObject.superRefine((plan, ctx) => {
    const problem = pairProblem(plan);
    if (problem) ctx.addIssue({ code: 'custom', path: ['router'], message: problem });
    const metric = metricProblem(plan);
    if (metric) ctx.addIssue({ code: 'custom', path: ['strategy'], message: metric });
  }),
);
export type Plan = z.output<typeof planObject>;

export const TASK_QUEUE = 'cutover';
