// Shared by the benchmarks: a cutover worker in its own process, workflow-history arithmetic,
// and writing results.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export const REPO = resolve(__dirname, '..');
export const RESULTS_DIR = join(__dirname, 'results');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reject after `ms` with a message naming what took too long. */
export function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Resolves on the first SIGINT/SIGTERM, so a benchmark can stop early and still clean up. */
export const interrupted: { value: boolean; promise: Promise<void> } = (() => {
  const state = { value: false, promise: Promise.resolve() };
  state.promise = new Promise<void>((resolve) => {
    const on = (): void => {
      state.value = true;
      console.error('\n[bench] interrupted: finishing the current step, then stopping every server');
      resolve();
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
  return state;
})();

/** `--name value` from argv, as a positive integer. */
export function intArg(name: string, fallback: number, max: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

// ---------- the worker, as its own process (workers/main.ts, exactly what `npm run worker` runs) ----------

export interface WorkerProcess {
  pid: number;
  /** Resident set size now and the kernel's high-water mark (VmHWM), in bytes. */
  memory(): { rss: number; hwm: number } | null;
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an OOM kill would; resolves once the process is gone. */
  kill(): Promise<void>;
}

/**
 * `compiled`: run dist/workers/main.js (what `npm run worker` runs; scripts/build.sh must have
 * run), which loads the prebuilt workflow bundle; otherwise workers/main.ts through tsx, which
 * bundles the workflows at start.
 */
export async function startWorkerProcess(address: string, logFile: string, extraEnv: NodeJS.ProcessEnv = {}, opts: { compiled?: boolean } = {}): Promise<WorkerProcess> {
  const fd = openSync(logFile, 'a');
  // node --import tsx: one process (the tsx CLI would add a wrapper process around it).
  const args = opts.compiled ? [join(REPO, 'dist', 'workers', 'main.js')] : ['--import', 'tsx', join(REPO, 'workers', 'main.ts')];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, TEMPORAL_ADDRESS: address, ...extraEnv },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = false;
  const done = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const pid = child.pid;
  if (pid === undefined) throw new Error('worker process did not start');
  const deadline = Date.now() + 90_000;
  // Ready once it logs that it polls (after bundling the workflows).
  for (;;) {
    const log = readFileSync(logFile, 'utf8');
    if (log.includes('cutover worker polling')) break;
    if (exited) throw new Error(`worker exited during start; see ${logFile}:\n${log.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker not ready after 90 s; see ${logFile}`);
    }
    await sleep(100);
  }
  return {
    pid,
    memory() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
        return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
      } catch {
        return null;
      }
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await done;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([done.then(() => true), sleep(15_000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await done;
      }
    },
  };
}

// ---------- histories ----------

const E = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

export const eventMs = (e: Event): number => {
  const t = e.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
};

export interface ActivitySpan {
  type: string;
  /** Attempt that completed (1 = no retry). */
  attempt: number;
  scheduled: number;
  started: number;
  closed: number;
}

export interface DeployTimeline {
  events: number;
  started: number;
  closed: number;
  status: 'completed' | 'failed' | 'other';
  activities: ActivitySpan[];
}

export async function deployTimeline(client: Client, workflowId: string): Promise<DeployTimeline> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, { at: number; attempt: number }>();
  const activities: ActivitySpan[] = [];
  let closed = NaN;
  let status: DeployTimeline['status'] = 'other';
  for (const e of events) {
    const id = String(e.eventId);
    switch (e.eventType) {
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled.set(id, { type: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', at: eventMs(e) });
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started.set(String(e.activityTaskStartedEventAttributes?.scheduledEventId), {
          at: eventMs(e),
          attempt: e.activityTaskStartedEventAttributes?.attempt ?? 1,
        });
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const a =
          e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        const sid = String(a?.scheduledEventId);
        const s = scheduled.get(sid);
        const st = started.get(sid);
        if (s) activities.push({ type: s.type, attempt: st?.attempt ?? 1, scheduled: s.at, started: st?.at ?? s.at, closed: eventMs(e) });
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        closed = eventMs(e);
        status = 'completed';
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        closed = eventMs(e);
        status = 'failed';
        break;
      default:
        break;
    }
  }
  return { events: events.length, started: events[0] ? eventMs(events[0]) : NaN, closed, status, activities };
}

/** Total length of the union of [start, end] intervals (parallel activities count once). */
export function unionMs(intervals: [number, number][]): number {
  const sorted = [...intervals].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const [a, b] of sorted) {
    if (a > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = a;
      curEnd = b;
    } else if (b > curEnd) curEnd = b;
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

// ---------- figures ----------

export interface Summary {
  mean: number;
  p50: number;
  max: number;
  min: number;
}

export function summary(values: number[]): Summary {
  if (values.length === 0) return { mean: NaN, p50: NaN, max: NaN, min: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    mean: round(values.reduce((a, b) => a + b, 0) / values.length),
    p50: round(sorted[Math.floor((sorted.length - 1) / 2)]!),
    max: round(sorted.at(-1)!),
    min: round(sorted[0]!),
  };
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** bench/results/<name>-<timestamp>.json and <name>-latest.json; returns the first path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, '-');
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  const text = `${JSON.stringify(data, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), text);
  return file;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
