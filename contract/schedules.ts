// Recurring deploys: a Temporal Schedule per (name) fires `scheduledDeployWorkflow`, which asks
// the version source for a version and requests a deploy of it unless it is already live.
import { z } from 'zod';
import { planSchema } from './spec';

/** Where a recurring deploy's version comes from. */
export const versionSourceSchema = z.discriminatedUnion('kind', [
  /** A command run on the environment's first host; its last line (or that path's last segment) is the version. */
  z.strictObject({ kind: z.literal('command'), command: z.string().min(1).max(1000) }),
  /** An http(s) URL whose body's first line is the version. */
  z.strictObject({ kind: z.literal('url'), url: z.string().regex(/^https?:\/\/\S+$/) }),
]);
export type VersionSource = z.infer<typeof versionSourceSchema>;

export const scheduledDeployInputSchema = z.strictObject({
  schedule: z.string().min(1),
  plan: planSchema,
  versionFrom: versionSourceSchema,
});
export type ScheduledDeployInput = z.infer<typeof scheduledDeployInputSchema>;

export interface ScheduledDeployResult {
  outcome: 'requested' | 'no-op';
  version: string;
  /** The deploy it requested (outcome `requested`). */
  deployId?: string;
  /** What serves now, when that is why nothing was requested. */
  live?: string;
}

/** Schedule ids: one namespace-wide name per recurring deploy. */
export const scheduleId = (name: string): string => `cutover-schedule/${name}`;
export const SCHEDULE_PREFIX = 'cutover-schedule/';
/** Runs fired by a schedule: Temporal appends the fire time to this id. */
export const scheduledWorkflowId = (app: string, env: string, name: string): string => `scheduled/${app}/${env}/${name}`;

/** `command:readlink /srv/app/latest` or an http(s) URL. */
export function parseVersionSource(text: string): VersionSource | undefined {
  const t = text.trim();
  if (/^https?:\/\/\S+$/.test(t)) return { kind: 'url', url: t };
  const m = /^command:(.+)$/s.exec(t);
  return m && m[1]!.trim() !== '' ? { kind: 'command', command: m[1]!.trim() } : undefined;
}

export const describeVersionSource = (s: VersionSource): string => (s.kind === 'url' ? s.url : `\`${s.command}\` on the first host`);
