// Process helpers for the sandbox: free ports, waiting for TCP, child daemons in their own
// process group that can be stopped reliably.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port that is free on `address` right now. */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Poll until address:port accepts TCP connections; `check` may abort early (e.g. child died). */
export async function waitForTcp(
  what: string,
  address: string,
  port: number,
  timeoutMs = 15_000,
  check?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(address, port)) return;
    const problem = check?.();
    if (problem) throw new Error(`${what}: ${problem}`);
    if (Date.now() > deadline) throw new Error(`${what}: ${address}:${port} not accepting connections after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface Daemon {
  child: ChildProcess;
  exited: Promise<void>;
  isRunning(): boolean;
  /** TERM the process group, KILL it after graceMs. Resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Process groups of the daemons still running, for killDaemonsNow(). */
const liveGroups = new Set<number>();

/** SIGKILL every daemon's process group at once: the forced stop (a second Ctrl-C). */
export function killDaemonsNow(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear();
}

/**
 * A demo's Ctrl-C: resolves on the first SIGINT/SIGTERM (after `first`), so the caller stops
 * what it started in order; a second one (after `again`) kills every daemon at once and exits 130.
 */
export function stopSignals(first: (sig: NodeJS.Signals) => void, again: (sig: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let signals = 0;
    const on = (sig: NodeJS.Signals): void => {
      if (++signals === 1) {
        first(sig);
        resolve(sig);
        return;
      }
      again(sig);
      killDaemonsNow();
      process.exit(130);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Spawn a long-running child in its own process group, stdout+stderr appended to logFile. */
export function spawnDaemon(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Daemon {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  closeSync(fd);
  let running = true;
  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running = false;
      resolve();
    });
    child.once('error', () => {
      running = false;
      resolve();
    });
  });
  const signalGroup = (sig: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  return {
    child,
    exited,
    isRunning: () => running,
    async stop(graceMs = 5000): Promise<void> {
      if (!running) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL'); // stragglers of the group (workers)
      if (pid !== undefined) liveGroups.delete(pid);
    },
  };
}

/** Pids whose parent is `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      /* process vanished */
    }
  }
  return out;
}

/** Is the pid a live (non-zombie) process? */
export function isAlive(pid: number): boolean {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return false;
  try {
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Read /proc/<pid>/cmdline as argv, or [] if gone. */
export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

export interface CapturedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to its end, capturing its output; SIGKILLed after `timeoutMs`. */
export function runCaptured(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CapturedRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}
