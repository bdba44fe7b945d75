// A real PostgreSQL 15 (Debian's postgresql-15) on loopback for tests, the demo and benchmarks:
// a primary in a temp data directory (trust auth on 127.0.0.1, fsync off) and, when asked, a
// streaming standby made with pg_basebackup. PostgreSQL refuses to run as root, so as root the
// clusters belong to the `postgres` system user the package creates.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import { freePort, sleep, spawnDaemon, waitForTcp, type Daemon } from './procs';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface SandboxPostgres {
  port: number;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** Run SQL through psql as the superuser; returns stdout (tuples only, unaligned). */
  sql(query: string, database?: string): string;
  isRunning(): boolean;
  /** Stop the server (fast shutdown); idempotent. */
  stop(): Promise<void>;
  /** Start it again on the same port and data directory. */
  start(): Promise<void>;
}

export interface PostgresOptions {
  /** Holds the data directory and the log. */
  dir: string;
  port?: number;
  /** Make this a streaming standby of that primary (pg_basebackup -R). */
  standbyOf?: SandboxPostgres;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
}

const asRoot = userInfo().uid === 0;

/** argv that runs `cmd` as the cluster's owner. */
function owner(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[], input?: string): string {
  const [c, a] = owner(cmd, args);
  return execFileSync(c, a, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
}

function giveToOwner(path: string): void {
  if (!asRoot) return;
  // The postgres user must be able to reach the directory: temp parents made by mkdtemp are 0700.
  for (let p = dirname(path); p.startsWith(`${tmpdir()}/`); p = dirname(p)) {
    const mode = statSync(p).mode;
    if ((mode & 0o001) === 0) chmodSync(p, (mode & 0o7777) | 0o011);
  }
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(path, uid, gid);
}

const logTail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
};

/** The postmaster's pid (first line of postmaster.pid), or null when it is not running. */
function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export async function startPostgres(opts: PostgresOptions): Promise<SandboxPostgres> {
  if (!existsSync(join(PG_BIN, 'postgres'))) throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}); run scripts/setup.sh`);
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  giveToOwner(dir);
  const dataDir = join(dir, 'data');
  const socketDir = dir;
  const logFile = join(dir, 'postgres.log');
  const port = opts.port ?? (await freePort());

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    if (opts.standbyOf) {
      run(join(PG_BIN, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(opts.standbyOf.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '-c', 'fast']);
    } else {
      run(join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    }
  }

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: socketDir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    wal_level: 'replica',
    max_wal_senders: '5',
    hot_standby: 'on',
    shared_buffers: '32MB',
    ...opts.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  let daemon: Daemon | null = null;

  const start = async (): Promise<void> => {
    const [c, a] = owner(join(PG_BIN, 'postgres'), args);
    daemon = spawnDaemon(c, a, logFile);
    const d = daemon;
    await waitForTcp('postgres', '127.0.0.1', port, 30_000, () => (d.isRunning() ? undefined : `exited: ${logTail(logFile)}`));
    // Accepting TCP is not accepting queries (startup, recovery): wait for pg_isready.
    for (let i = 0; ; i++) {
      try {
        execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q'], { stdio: 'ignore' });
        return;
      } catch {
        if (i > 300) throw new Error(`postgres on ${port} not ready: ${logTail(logFile)}`);
        await sleep(50);
      }
    }
  };
  await start();

  const pg: SandboxPostgres = {
    port,
    dataDir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    sql: (query, database = 'postgres') =>
      execFileSync(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-At', '-c', query], {
        encoding: 'utf8',
        timeout: 30_000,
      }).trim(),
    isRunning: () => daemon?.isRunning() ?? false,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown; the group stop follows for anything left.
      const d = daemon;
      if (!d || !d.isRunning()) return;
      const postmaster = postmasterPid(dataDir);
      if (postmaster !== null) {
        try {
          process.kill(postmaster, 'SIGINT');
        } catch {
          /* gone */
        }
      }
      await Promise.race([d.exited, sleep(10_000)]);
      await d.stop(2000);
    },
    start,
  };
  return pg;
}
