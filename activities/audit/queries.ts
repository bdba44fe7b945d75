// SQL for the audit log as pure builders: parameters always as $n values, never spliced in.
import type { AuditEvent } from '../../contract/audit';

export interface Query {
  text: string;
  values: unknown[];
}

const COLUMNS = ['id', 'at', 'app', 'env', 'operation', 'operation_id', 'action', 'actor', 'version', 'approvers', 'outcome', 'message', 'detail'] as const;

/** One INSERT for a batch; an event already written (a retried activity, a replay) is skipped. */
export function insertEvents(events: readonly AuditEvent[]): Query {
  const values: unknown[] = [];
  const rows = events.map((e) => {
    const row = [e.id, new Date(e.at).toISOString(), e.app, e.env, e.operation, e.operationId, e.action, e.actor, e.version, e.approvers, e.outcome, e.message, JSON.stringify(e.detail)];
    const first = values.length;
    values.push(...row);
    return `(${row.map((_, i) => `$${first + i + 1}`).join(', ')})`;
  });
  return {
    text: `INSERT INTO cutover_audit_events (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`,
    values,
  };
}

export interface AuditFilter {
  app?: string;
  env?: string;
  actor?: string;
  action?: string;
  /** A deploy / rollback id (its workflow id, as `cutover status` shows it). */
  operation?: string;
  since?: Date;
  until?: Date;
}

/** The row the previous page ended on (keyset paging: constant time per page at any depth). */
export interface PageCursor {
  at: Date;
  id: string;
}

export function selectEvents(filter: AuditFilter, pageSize: number, after?: PageCursor): Query {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown): void => {
    values.push(value);
    where.push(sql(`$${values.length}`));
  };
  if (filter.app !== undefined) add((n) => `app = ${n}`, filter.app);
  if (filter.env !== undefined) add((n) => `env = ${n}`, filter.env);
  if (filter.actor !== undefined) add((n) => `actor = ${n}`, filter.actor);
  if (filter.action !== undefined) add((n) => `action = ${n}`, filter.action);
  if (filter.operation !== undefined) add((n) => `operation_id = ${n}`, filter.operation);
  if (filter.since !== undefined) add((n) => `at >= ${n}`, filter.since.toISOString());
  if (filter.until !== undefined) add((n) => `at < ${n}`, filter.until.toISOString());
  if (after) {
    values.push(after.at.toISOString(), after.id);
    where.push(`(at, id) > ($${values.length - 1}, $${values.length})`);
  }
  values.push(pageSize);
  return {
    text: `SELECT ${COLUMNS.join(', ')} FROM cutover_audit_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY at, id LIMIT $${values.length}`,
    values,
  };
}

/** Delete up to `batch` events older than `before` (small batches keep locks and WAL short). */
export function purgeBatch(before: Date, batch: number): Query {
  return {
    text: `DELETE FROM cutover_audit_events WHERE id IN (SELECT id FROM cutover_audit_events WHERE at < $1 ORDER BY at LIMIT $2)`,
    values: [before.toISOString(), batch],
  };
}
