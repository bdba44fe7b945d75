// The audit log's PostgreSQL connection pool, made once per process from DATABASE_URL (the
// worker's environment: the password never reaches a workflow). The schema is migrated on
// first use and again after a failed attempt, so a worker started while PostgreSQL is down
// migrates once it is back.
import { Pool } from 'pg';
import { migrate } from './migrate';

export class AuditStore {
  private pool: Pool | null = null;
  private migrated: Promise<unknown> | null = null;

  constructor(readonly databaseUrl: string) {}

  /** The pool, without touching the schema (readers). */
  connection(): Pool {
    if (!this.pool) {
      this.pool = new Pool({ connectionString: this.databaseUrl, max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
      // An idle client losing its server must not crash the process; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  /** The pool, once the schema is current (writers). */
  async ready(): Promise<Pool> {
    const pool = this.connection();
    this.migrated ??= migrate(pool).catch((err: unknown) => {
      this.migrated = null;
      throw err;
    });
    await this.migrated;
    return pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.migrated = null;
    await pool?.end();
  }
}

/** Where a URL points, without its password (for messages). */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'DATABASE_URL (not a URL)';
  }
}
