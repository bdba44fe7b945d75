// Pure helpers for PostgreSQL replication positions and connection settings. No I/O.
import type { PgConnection } from '../../contract/failover';

/** `16/B374D848` → its byte position. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new Error(`not a WAL position (pg_lsn): ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** Bytes `ahead` is past `behind` (0 when it is not). */
export function lsnDiff(ahead: string, behind: string): number {
  const d = parseLsn(ahead) - parseLsn(behind);
  return d > 0n ? Number(d) : 0;
}

export interface ReplayStatus {
  inRecovery: boolean;
  /** pg_last_wal_receive_lsn(): what the standby has received (null when not streaming). */
  receiveLsn: string | null;
  /** pg_last_wal_replay_lsn(): what it has applied. */
  replayLsn: string | null;
  /** pg_last_xact_replay_timestamp() in ms since epoch (null before the first replayed transaction). */
  replayTimestamp: number | null;
}

export interface LagEstimate {
  /** The primary position the estimate compares with, and where it came from. */
  against: { lsn: string; source: 'primary' | 'last-known' | 'received' } | null;
  bytes: number | null;
  seconds: number | null;
}

/**
 * The standby's lag: bytes between the primary's position (read now, else the last known one,
 * else what the standby received) and what it replayed; seconds since the last replayed
 * transaction, counted only while bytes are missing (an idle primary is not lag).
 */
export function estimateLag(s: ReplayStatus, now: number, primaryLsn?: { lsn: string; source: 'primary' | 'last-known' }): LagEstimate {
  const against = primaryLsn ?? (s.receiveLsn ? { lsn: s.receiveLsn, source: 'received' as const } : null);
  if (!against || !s.replayLsn) return { against, bytes: null, seconds: null };
  const bytes = lsnDiff(against.lsn, s.replayLsn);
  const seconds = bytes === 0 ? 0 : s.replayTimestamp === null ? null : Math.max(0, (now - s.replayTimestamp) / 1000);
  return { against, bytes, seconds };
}

export const REPLAY_STATUS_SQL =
  'SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn, ' +
  '(extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_ts';
export const CURRENT_LSN_SQL = 'SELECT pg_current_wal_lsn()::text AS lsn';
export const PROMOTE_SQL = 'SELECT pg_promote(true, $1::int) AS promoted';
/** A real write, committed: what "accepts writes" means. */
export const WRITE_CHECK_SQL = [
  'CREATE TABLE IF NOT EXISTS cutover_failover_check (id bigserial PRIMARY KEY, failover text NOT NULL, at timestamptz NOT NULL DEFAULT now())',
  'INSERT INTO cutover_failover_check (failover) VALUES ($1) RETURNING id',
];

export interface PgClientConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  connectionTimeoutMillis: number;
  statement_timeout: number;
  application_name: string;
}

/** Settings for `new pg.Client(...)`; the password from the worker's environment variable the config names. */
export function pgClientConfig(conn: PgConnection, env: NodeJS.ProcessEnv, timeoutMs = 5000): PgClientConfig {
  let password: string | undefined;
  if (conn.passwordEnv) {
    password = env[conn.passwordEnv];
    if (password === undefined) throw new Error(`the worker's environment has no ${conn.passwordEnv} (the database password for ${conn.user}@${conn.host}:${conn.port})`);
  }
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.database,
    ...(password !== undefined ? { password } : {}),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: 120_000,
    application_name: 'cutover-failover',
  };
}

export function rowToReplayStatus(row: { in_recovery: boolean; receive_lsn: string | null; replay_lsn: string | null; replay_ts: number | null }): ReplayStatus {
  return {
    inRecovery: row.in_recovery,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    replayTimestamp: row.replay_ts === null ? null : Math.round(Number(row.replay_ts)),
  };
}
