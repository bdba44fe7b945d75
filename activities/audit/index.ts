// Audit log activities: write a batch of events (idempotent: each event id lands once however
// often the activity is retried) and purge what is older than the retention.
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { AuditEvent, AuditPurgeInput, AuditPurgeResult } from '../../contract/audit';
import { insertEvents, purgeBatch } from './queries';
import type { AuditStore } from './store';

const PURGE_BATCH = 5000;

export function createAuditActivities(store: AuditStore | undefined) {
  const ready = async () => {
    if (!store) {
      // Retryable: another worker of the task queue may have the database, or this one gets it at its restart.
      throw ApplicationFailure.retryable('this worker has no DATABASE_URL: set it to the audit log PostgreSQL (e.g. postgres://cutover@db:5432/cutover) and restart the worker', 'AuditNotConfigured');
    }
    return store.ready();
  };
  return {
    async auditWrite(events: AuditEvent[]): Promise<{ written: number }> {
      if (events.length === 0) return { written: 0 };
      const pool = await ready();
      const r = await pool.query(insertEvents(events));
      return { written: r.rowCount ?? 0 };
    },

    async auditPurge({ retentionDays }: AuditPurgeInput): Promise<AuditPurgeResult> {
      const pool = await ready();
      const before = new Date(Date.now() - retentionDays * 86_400_000);
      let deleted = 0;
      for (;;) {
        const r = await pool.query(purgeBatch(before, PURGE_BATCH));
        deleted += r.rowCount ?? 0;
        heartbeat({ deleted });
        if ((r.rowCount ?? 0) < PURGE_BATCH) break;
      }
      return { deleted, before: before.toISOString() };
    },
  };
}
