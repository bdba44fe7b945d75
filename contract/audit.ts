// The audit log: one row per thing that happened to an environment (who, what, when, approved
// by whom). Workflows hand events to their Journal; an activity writes them to PostgreSQL.
import { z } from 'zod';

export const AUDIT_ACTIONS = [
  'requested',
  'scheduled',
  'frozen',
  'break-glass',
  'awaiting-approval',
  'approved',
  'rejected',
  'started',
  'step',
  'switched',
  'promoted',
  'paused',
  'resumed',
  'succeeded',
  'failed',
  'cancelled',
  'rolled-back',
  'refused',
  'torn-down',
  'incident',
  'failed-over',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_OPERATIONS = ['deploy', 'rollback', 'teardown', 'schedule', 'failover', 'monitor', 'failback'] as const;
export type AuditOperation = (typeof AUDIT_OPERATIONS)[number];

export const auditEventSchema = z.strictObject({
  /** Unique per event and stable across activity retries and replays: `<workflow id>:<run id>:<n, 6 digits>`. */
  id: z.string().min(1).max(500),
  /** Epoch ms, the workflow's clock when it happened. */
  at: z.number().int().nonnegative(),
  app: z.string().min(1),
  env: z.string().min(1),
  operation: z.enum(AUDIT_OPERATIONS),
  /** The deploy / rollback / teardown id (the Temporal workflow id). */
  operationId: z.string().min(1),
  action: z.enum(AUDIT_ACTIONS),
  actor: z.string().nullable(),
  version: z.string().nullable(),
  approvers: z.array(z.string()),
  outcome: z.string().nullable(),
  message: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof auditEventSchema>;

/** How long events are kept before the daily purge deletes them, unless the worker says otherwise. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
/** The daily Schedule that runs the purge workflow. */
export const AUDIT_PURGE_SCHEDULE_ID = 'cutover-audit-purge';

export interface AuditPurgeInput {
  retentionDays: number;
}
export interface AuditPurgeResult {
  deleted: number;
  before: string;
}
