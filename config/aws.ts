// The AWS parts of cutover.yml: `aws:` (region, CodeDeploy application, a deployment group per
// colour, the revision template) and `router: {alb: ...}` (listener and target groups), mapped
// onto the contract's `aws` platform and `alb` router.
import { z } from 'zod';
import { albRouterSchema, awsPlatformSchema, CLOUDWATCH_STATS, type AlbRouter, type AwsPlatform, type CloudWatchMetric } from '../contract/aws';
import type { FailIf } from '../contract/spec';

const durationMs = z.number().int().positive();

/** `aws:` of an environment; durations are read by the caller's duration schema (passed in). */
export const awsConfigSchema = (duration: () => z.ZodType<number, unknown>) =>
  z.strictObject({
    region: awsPlatformSchema.shape.region,
    codeDeploy: z.strictObject({
      application: awsPlatformSchema.shape.application,
      deploymentGroups: awsPlatformSchema.shape.deploymentGroups,
      revision: awsPlatformSchema.shape.revision.refine((r) => r.includes('{{version}}'), {
        message: 'must contain {{version}}, e.g. s3://bucket/shop/{{version}}.zip, so each version has its own bundle',
      }),
      timeout: duration().optional(),
      pollInterval: duration().optional(),
    }),
  });

export const albConfigSchema = albRouterSchema.omit({ kind: true });

export type AwsConfig = { region: string; codeDeploy: { application: string; deploymentGroups: { blue: string; green: string }; revision: string; timeout?: number; pollInterval?: number } };

export function awsPlatform(c: AwsConfig): AwsPlatform {
  return {
    kind: 'aws',
    region: c.region,
    application: c.codeDeploy.application,
    deploymentGroups: c.codeDeploy.deploymentGroups,
    revision: c.codeDeploy.revision,
    deployTimeoutMs: durationMs.parse(c.codeDeploy.timeout ?? 10 * 60_000),
    pollIntervalMs: durationMs.parse(c.codeDeploy.pollInterval ?? 5000),
  };
}

export const albRouter = (c: z.output<typeof albConfigSchema>): AlbRouter => ({ kind: 'alb', ...c });

/** Where an environment's shape is wrong: ssh (hosts, slots, nginx) and aws (aws, alb) do not mix. */
export function shapeProblems(env: { hosts?: unknown; slots?: unknown; aws?: unknown; router: { nginx?: unknown; alb?: unknown } }): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  const ssh = env.hosts !== undefined || env.slots !== undefined || env.router.nginx !== undefined;
  const aws = env.aws !== undefined || env.router.alb !== undefined;
  if (ssh && aws) {
    out.push({ path: [], message: 'mixes ssh (hosts, slots, router.nginx) and aws (aws, router.alb); an environment is one or the other' });
    return out;
  }
  if (aws) {
    if (env.aws === undefined) out.push({ path: ['aws'], message: 'missing; router.alb needs aws: {region, codeDeploy: {application, deploymentGroups: {blue, green}, revision}}' });
    if (env.router.alb === undefined) out.push({ path: ['router', 'alb'], message: 'missing; the aws platform needs router: {alb: {listenerArn, targetGroups: {blue, green}, url}}' });
    return out;
  }
  if (env.hosts === undefined) out.push({ path: ['hosts'], message: 'missing; add at least one host (or use aws: with router.alb)' });
  if (env.slots === undefined) out.push({ path: ['slots'], message: 'missing; the ssh hosts need slots: {blue: {port}, green: {port}, start, stop}' });
  if (env.router.nginx === undefined) out.push({ path: ['router', 'nginx'], message: 'missing; give router: {nginx: {...}} (or router: {alb: {...}} with aws:)' });
  return out;
}

/** `cloudwatch: {metric: HTTPCode_Target_5XX_Count, per: RequestCount, stat: Sum, period: 60s}` of a canary metric. */
export const cloudwatchConfigSchema = (duration: () => z.ZodType<number, unknown>) =>
  z.strictObject({
    metric: z.string().min(1).max(255),
    stat: z.enum(CLOUDWATCH_STATS).default('Sum'),
    per: z.string().min(1).max(255).optional(),
    period: duration().optional(),
  });

export function cloudwatchMetric(name: string, c: { metric: string; stat: CloudWatchMetric['stat']; per?: string; period?: number }, failIf: FailIf): CloudWatchMetric {
  return {
    kind: 'cloudwatch',
    name,
    metricName: c.metric,
    stat: c.stat,
    ...(c.per ? { per: c.per } : {}),
    periodSeconds: Math.max(1, Math.round((c.period ?? 60_000) / 1000)),
    failIf,
  };
}
