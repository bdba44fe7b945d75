// The audit log as a table keyed by event id (the real one skips an id it already has), and a
// database that can be down: writes then fail, as they do when PostgreSQL is unreachable.
import type { Activities } from '../../../activities';
import type { AuditEvent } from '../../../contract/audit';

export interface FakeAuditDb {
  rows: Map<string, AuditEvent>;
  /** Write attempts, including failed ones. */
  attempts: number;
  /** While true, writes fail like a refused connection. */
  down: boolean;
  /** Fail this many writes after committing them (the activity's answer is lost; Temporal retries it). */
  loseAnswers: number;
}

export const newAuditDb = (): FakeAuditDb => ({ rows: new Map(), attempts: 0, down: false, loseAnswers: 0 });

export function fakeAudit(db: FakeAuditDb): Pick<Activities, 'auditWrite' | 'auditPurge'> {
  return {
    async auditWrite(events) {
      db.attempts++;
      if (db.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      let written = 0;
      for (const e of events) {
        if (db.rows.has(e.id)) continue;
        db.rows.set(e.id, e);
        written++;
      }
      if (db.loseAnswers > 0) {
        db.loseAnswers--;
        throw new Error('connection reset after commit');
      }
      return { written };
    },
    async auditPurge({ retentionDays }) {
      const before = Date.now() - retentionDays * 86_400_000;
      let deleted = 0;
      for (const [id, e] of db.rows) {
        if (e.at < before) {
          db.rows.delete(id);
          deleted++;
        }
      }
      return { deleted, before: new Date(before).toISOString() };
    },
  };
}
