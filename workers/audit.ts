// What a worker with DATABASE_URL does for the audit log at its start: migrate the schema
// (not fatal when PostgreSQL is down: the first write migrates), and keep the daily purge
// Schedule in place with the retention of CUTOVER_AUDIT_RETENTION_DAYS (default 90).
import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { AuditStore } from '../activities/audit/store';
import { describeDatabase } from '../activities/audit/store';
import { AUDIT_PURGE_SCHEDULE_ID, DEFAULT_AUDIT_RETENTION_DAYS } from '../contract/audit';

export class AuditSettingsError extends Error {}

export function retentionDaysFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.CUTOVER_AUDIT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 36_500) throw new AuditSettingsError(`CUTOVER_AUDIT_RETENTION_DAYS: expected whole days from 1 to 36500, got ${JSON.stringify(raw)}`);
  return n;
}

export async function prepareAuditLog(opts: { store: AuditStore; connection: NativeConnection | Connection; namespace: string; taskQueue: string; retentionDays: number; log: (line: string) => void }): Promise<void> {
  const where = describeDatabase(opts.store.databaseUrl);
  try {
    await opts.store.ready();
    opts.log(`audit log: ${where}, schema current; events kept ${opts.retentionDays} days`);
  } catch (err) {
    opts.log(`audit log: ${where} not ready (${err instanceof Error ? err.message : String(err)}); events wait in their workflows and the schema is migrated on the first write`);
  }
  const client = new Client({ connection: opts.connection, namespace: opts.namespace });
  const action = { type: 'startWorkflow' as const, workflowType: 'auditPurgeWorkflow', workflowId: 'audit-purge', taskQueue: opts.taskQueue, args: [{ retentionDays: opts.retentionDays }] as [{ retentionDays: number }] };
  const spec = { calendars: [{ hour: 3, minute: 17, comment: 'daily, 03:17 UTC' }] };
  // The purge is housekeeping: a worker that cannot keep its Schedule (no permission on the
  // namespace, another worker updating it at the same moment) says so and still runs deploys.
  try {
    try {
      await client.schedule.create({ scheduleId: AUDIT_PURGE_SCHEDULE_ID, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' } });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      // Another worker (or an earlier start) made it: bring its retention up to date.
      await client.schedule.getHandle(AUDIT_PURGE_SCHEDULE_ID).update((prev) => ({ ...prev, action }));
    }
  } catch (err) {
    opts.log(`audit log: could not keep the ${AUDIT_PURGE_SCHEDULE_ID} Schedule (${err instanceof Error ? err.message : String(err)}); old events are not purged until a worker can`);
  }
}
