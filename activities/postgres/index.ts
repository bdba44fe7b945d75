// PostgreSQL for failover: fence the old primary (stop it over SSH and check it refuses
// writes), measure the standby's lag, promote it and check it takes writes. Each is safe to
// retry: a fence of a stopped server stops nothing, a promoted server is not promoted again.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import type { FenceSpec, PgConnection } from '../../contract/failover';
import { hostVars, renderTemplate } from '../shell';
import { run, SshConnectError, SshTimeoutError, type Ssh } from '../ssh/client';
import { onHost } from '../ssh/on-host';
import { fenceSignalCommand, unfenceSignalCommand } from './fence';
import { CURRENT_LSN_SQL, estimateLag, pgClientConfig, PROMOTE_SQL, REPLAY_STATUS_SQL, rowToReplayStatus, WRITE_CHECK_SQL, type LagEstimate, type ReplayStatus } from './lsn';

export interface FenceInput {
  fence: FenceSpec;
  database: PgConnection;
}
export interface FenceResult {
  /** The fence command ran (the host answered over SSH). */
  reachable: boolean;
  /** The database refuses connections or writes now. */
  refusesWrites: boolean;
  /** The primary's WAL position read just before it was stopped, when it still answered. */
  lastPrimaryLsn: string | null;
  /** What answered before the stop: a primary, a server in recovery (a durable fence's restart), or nothing. */
  wasUp?: 'writable' | 'read-only' | 'down';
  /** standby.signal was left in its data directory (fence.dataDir): a restart comes up read-only. */
  durable?: boolean;
  detail: string;
}
export interface LagInput {
  standby: PgConnection;
  /** Read the primary's position now (before a fence), best effort. */
  primary?: PgConnection;
  /** The last position known from the primary (e.g. read before the fence). */
  lastPrimaryLsn?: string | null;
}
export interface LagResult extends LagEstimate {
  status: ReplayStatus;
  measuredAt: number;
}
export interface PromoteInput {
  standby: PgConnection;
  failoverId: string;
}
export interface PromoteResult {
  /** This call promoted it (false: it was already a primary, e.g. a retried step). */
  promoted: boolean;
  /** Id of the row written to check that it takes writes. */
  writeCheckId: string;
  ms: number;
}

const CONNECT_TIMEOUT_MS = 3000;

async function withClient<T>(conn: PgConnection, env: NodeJS.ProcessEnv, fn: (c: pg.Client) => Promise<T>, timeoutMs = CONNECT_TIMEOUT_MS): Promise<T> {
  const client = new pg.Client(pgClientConfig(conn, env, timeoutMs));
  client.on('error', () => undefined); // a server going away mid-session surfaces in the query instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Can this server be written to right now? `null` means it could not even be reached. */
async function writeProbe(conn: PgConnection, env: NodeJS.ProcessEnv): Promise<{ writable: boolean; detail: string }> {
  try {
    return await withClient(conn, env, async (c) => {
      try {
        // A temp table is a write that leaves nothing behind; a read-only server refuses it.
        await c.query('CREATE TEMP TABLE cutover_fence_probe (x int)');
        return { writable: true, detail: 'accepted a write' };
      } catch (err) {
        return { writable: false, detail: `refused a write: ${(err as Error).message}` };
      }
    });
  } catch (err) {
    return { writable: false, detail: `refuses connections: ${(err as Error).message}` };
  }
}

export function createPostgresActivities(ssh: Ssh, env: NodeJS.ProcessEnv = process.env) {
  return {
    /**
     * Stop the old primary with the configured command and check that it refuses writes. A host
     * that cannot be reached over SSH is reported (reachable: false), not retried here: the
     * workflow's rule decides how long to keep trying.
     */
    async pgFence(input: FenceInput): Promise<FenceResult> {
      const { fence, database } = input;
      let lastPrimaryLsn: string | null = null;
      let wasUp: FenceResult['wasUp'] = 'down';
      try {
        const row = await withClient(database, env, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0], 1500);
        wasUp = row?.r === true ? 'read-only' : 'writable';
        if (wasUp === 'writable') lastPrimaryLsn = await withClient(database, env, async (c) => (await c.query<{ lsn: string }>(CURRENT_LSN_SQL)).rows[0]?.lsn ?? null, 1500);
      } catch {
        /* already down or unreachable: nothing to read */
      }
      const command = renderTemplate(fence.command, hostVars(fence.host));
      try {
        await onHost(() =>
          ssh.withSession(fence.host, async (s) => {
            await run(s, fence.host, command, { timeoutMs: 120_000 });
            if (fence.dataDir) await run(s, fence.host, fenceSignalCommand(fence.dataDir), { timeoutMs: 30_000 });
          }),
        );
      } catch (err) {
        if (err instanceof SshConnectError || err instanceof SshTimeoutError) {
          const probe = await writeProbe(database, env);
          return { reachable: false, refusesWrites: !probe.writable, lastPrimaryLsn, wasUp, durable: false, detail: `${fence.host.name}: cannot run the fence over SSH (${err.message}); the database ${probe.detail}` };
        }
        throw err;
      }
      const probe = await writeProbe(database, env);
      if (probe.writable) {
        // The stop command said it worked but the server still takes writes: retry the step.
        throw ApplicationFailure.retryable(`${fence.host.name}: the fence command ran but ${database.host}:${database.port} still ${probe.detail}`, 'FenceIneffective');
      }
      const durable = fence.dataDir !== undefined;
      const signal = durable ? `; ${fence.dataDir}/standby.signal left: a restart comes up read-only` : '';
      return { reachable: true, refusesWrites: true, lastPrimaryLsn, wasUp, durable, detail: `${fence.host.name}: stopped${wasUp === 'read-only' ? ' (it was up read-only)' : ''}; ${database.host}:${database.port} ${probe.detail}${signal}` };
    },

    /** Undo of a fence (an aborted failover before promotion): remove standby.signal, then the configured start command. */
    async pgUnfence(input: FenceInput): Promise<void> {
      const { fence } = input;
      if (!fence.undo && !fence.dataDir) return;
      await onHost(() =>
        ssh.withSession(fence.host, async (s) => {
          if (fence.dataDir) await run(s, fence.host, unfenceSignalCommand(fence.dataDir), { timeoutMs: 30_000 });
          if (fence.undo) await run(s, fence.host, renderTemplate(fence.undo, hostVars(fence.host)), { timeoutMs: 120_000 });
        }),
      );
    },

    /**
     * Make the old primary a standby of the new one with the configured `reseed` command (a
     * fresh pg_basebackup), unless it already is a standby; wait until it answers as one.
     */
    async pgReseed(input: FenceInput & { source: PgConnection }): Promise<{ reseeded: boolean; detail: string }> {
      const { fence, database, source } = input;
      const ctx = Context.current();
      // A standby means one streaming WAL: a fenced old primary restarted read-only (standby.signal)
      // is in recovery too, but follows nobody and must be re-seeded.
      const role = async (): Promise<'streaming' | 'recovery' | 'primary' | null> => {
        try {
          const row = await withClient(database, env, async (c) => (await c.query<{ r: boolean; receiver: string | null }>('SELECT pg_is_in_recovery() AS r, (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver')).rows[0], 1500);
          return row?.r !== true ? 'primary' : row.receiver === 'streaming' ? 'streaming' : 'recovery';
        } catch {
          return null;
        }
      };
      const now = await role();
      if (now === 'streaming') return { reseeded: false, detail: `${database.host}:${database.port} already is a standby` };
      if (now === 'primary') throw ApplicationFailure.nonRetryable(`${database.host}:${database.port} answers as a primary: fence it before re-seeding it (two primaries would take writes)`, 'ReseedRefused');
      if (!fence.reseed) throw ApplicationFailure.nonRetryable(`no fence.reseed command is configured for ${fence.host.name}; add one (README, "Disaster recovery")`, 'ReseedRefused');
      const command = renderTemplate(fence.reseed, { ...hostVars(fence.host), primaryHost: source.host, primaryPort: source.port });
      const stop = renderTemplate(fence.command, hostVars(fence.host));
      await onHost(() =>
        ssh.withSession(fence.host, async (s) => {
          if (now === 'recovery') await run(s, fence.host, stop, { timeoutMs: 120_000 });
          await run(s, fence.host, command, { timeoutMs: 30 * 60_000 });
        }),
      );
      for (let i = 0; i < 300; i++) {
        ctx.heartbeat({ waiting: i });
        if ((await role()) === 'streaming') return { reseeded: true, detail: `${fence.host.name}: re-seeded from ${source.host}:${source.port}; streaming as a standby` };
        await ctx.sleep(200);
      }
      throw new Error(`${database.host}:${database.port} does not answer as a standby after the re-seed`);
    },

    /** How far the standby is behind (bytes and seconds), against the best primary position known. */
    async pgLag(input: LagInput): Promise<LagResult> {
      let primaryLsn: { lsn: string; source: 'primary' | 'last-known' } | undefined;
      if (input.primary) {
        try {
          const lsn = await withClient(input.primary, env, async (c) => (await c.query<{ lsn: string }>(CURRENT_LSN_SQL)).rows[0]?.lsn, 1500);
          if (lsn) primaryLsn = { lsn, source: 'primary' };
        } catch {
          /* the primary is down: compare with the last known position */
        }
      }
      if (!primaryLsn && input.lastPrimaryLsn) primaryLsn = { lsn: input.lastPrimaryLsn, source: 'last-known' };
      const status = await withClient(input.standby, env, async (c) => rowToReplayStatus((await c.query(REPLAY_STATUS_SQL)).rows[0]));
      const measuredAt = Date.now();
      return { ...estimateLag(status, measuredAt, primaryLsn), status, measuredAt };
    },

    /** Promote the standby (`pg_promote(wait => true)`) unless it already is a primary, then write to it. */
    async pgPromote(input: PromoteInput): Promise<PromoteResult> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      const started = Date.now();
      try {
        return await withClient(input.standby, env, async (c) => {
          const inRecovery = (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === true;
          let promoted = false;
          if (inRecovery) {
            const r = await c.query<{ promoted: boolean }>(PROMOTE_SQL, [60]);
            if (r.rows[0]?.promoted !== true) throw new Error(`pg_promote did not finish within 60 s on ${input.standby.host}:${input.standby.port}`);
            promoted = true;
          }
          await c.query(WRITE_CHECK_SQL[0]!);
          const row = await c.query<{ id: string }>(WRITE_CHECK_SQL[1]!, [input.failoverId]);
          return { promoted, writeCheckId: String(row.rows[0]?.id), ms: Date.now() - started };
        });
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type PostgresActivities = ReturnType<typeof createPostgresActivities>;
