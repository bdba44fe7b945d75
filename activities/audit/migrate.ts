// A tiny versioned migration runner: the schema is one table, so a library (node-pg-migrate,
// umzug) would bring more than it saves. Everything runs in one transaction under a
// transaction-level advisory lock (PostgreSQL's DDL is transactional), so workers starting
// together apply each migration once, and a failed one leaves nothing half-done.
import type { Pool } from 'pg';
import { MIGRATIONS, type Migration } from './migrations';

/** Any fixed number: the lock that serialises cutover's migrations across workers. */
const LOCK = 7_461_203_118;

/** Apply what is missing; returns the versions applied now. */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS cutover_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM cutover_schema_migrations')).rows.map((r) => r.version));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new Error(`audit migration ${m.version} (${m.name}) failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      await client.query('INSERT INTO cutover_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    await client.query('ROLLBACK').catch(() => undefined);
    throw broken;
  } finally {
    client.release(broken);
  }
  return applied;
}
