// What the CLI (and later gateways) ask an environment workflow to do, and the ids they carry.
import { z } from 'zod';
import { safeName } from './names';
import { planSchema, upgradeLegacyPlan } from './spec';

export const triggerSchema = z.strictObject({
  source: z.enum(['gitlab', 'github', 'cli', 'schedule']),
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
  /** A scheduled deploy (`cutover deploy --at`): when it may start, and that time as it was given. */
  scheduledFor: z.strictObject({ at: z.number().int().positive(), text: z.string().min(1).max(200) }).optional(),
  /** `--break-glass "reason"`: through a freeze, once one of the break-glass approvers agrees. */
  breakGlass: z.strictObject({ reason: z.string().min(1).max(500) }).optional(),
});
export type DeployRequest = z.infer<typeof deployRequestSchema>;

export const rollbackRequestSchema = z.strictObject({
  rollbackId: z.string().min(1),
  plan: planSchema,
  trigger: triggerSchema,
});
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;

/** A scheduled deploy's Slack thread says it is coming this long before it starts, unless the environment says otherwise. */
export const DEFAULT_SCHEDULE_NOTICE_MS = 15 * 60_000;

export const envWorkflowId = (app: string, env: string): string => `env/${app}/${env}`;

export const childWorkflowIds = {
  deploy: (app: string, env: string, key: string): string => `deploy/${app}/${env}/${key}`,
  rollback: (app: string, env: string, key: string): string => `rollback/${app}/${env}/${key}`,
  /** The delayed stop of the colour a deploy replaced; one per deploy. */
  teardown: (deployId: string): string => `teardown/${deployId.replace(/^deploy\//, '')}`,
};

/** A request as recorded before the seams (histories of running workflows), read in today's shape. */
export function withCurrentPlan<R extends { plan: unknown }>(request: R): R {
  return { ...request, plan: upgradeLegacyPlan(request.plan) };
}
