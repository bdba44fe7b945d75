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
  /** A local activity (run inside a workflow task; times from its marker). */
  local?: boolean;
}

export interface DeployTimeline {
  events: number;
  started: number;
  closed: number;
  status: 'completed' | 'failed' | 'other';
  activities: ActivitySpan[];
  overhead: WorkflowOverhead;
}

export async function deployTimeline(client: Client, workflowId: string): Promise<DeployTimeline> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const overhead = workflowOverhead(events);
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
      case E.EVENT_TYPE_MARKER_RECORDED: {
        const la = localActivitySpan(e);
        if (la) activities.push(la);
        break;
      }
      default:
        break;
    }
  }
  return { events: events.length, started: events[0] ? eventMs(events[0]) : NaN, closed, status, activities, overhead };
}

/** The first payload of a signal's input, decoded as JSON (the default converter's encoding). */
export const payloadJson = (p: temporal.api.common.v1.IPayloads | null | undefined): unknown => {
  const data = p?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
};

/**
 * When the environment workflow received an operation's signal and when its workflow task that
 * reacted started the operation's child: the trigger side of an operation's overhead.
 */
export async function environmentReaction(
  client: Client,
  envId: string,
  signalName: 'deploy' | 'rollback',
  operationId: string,
): Promise<{ signaled: number; childInitiated: number; reactionTaskStarted: number }> {
  const events = (await client.workflow.getHandle(envId).fetchHistory()).events ?? [];
  const idKey = signalName === 'deploy' ? 'deployId' : 'rollbackId';
  const signalIdx = events.findIndex(
    (e) =>
      e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
      e.workflowExecutionSignaledEventAttributes?.signalName === signalName &&
      (payloadJson(e.workflowExecutionSignaledEventAttributes?.input) as Record<string, unknown> | undefined)?.[idKey] === operationId,
  );
  const initiated = events.find(
    (e) => e.eventType === E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED && e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === operationId,
  );
  const taskStarted = signalIdx >= 0 ? events.slice(signalIdx).find((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_TASK_STARTED) : undefined;
  return {
    signaled: signalIdx >= 0 ? eventMs(events[signalIdx]!) : NaN,
    childInitiated: initiated ? eventMs(initiated) : NaN,
    reactionTaskStarted: taskStarted ? eventMs(taskStarted) : NaN,
  };
}

// ---------- where a workflow's time goes when no activity runs ----------

const timestampMs = (t: unknown): number => {
  if (typeof t === 'string') return Date.parse(t);
  if (t && typeof t === 'object' && 'seconds' in t) return Number((t as { seconds: unknown }).seconds) * 1000 + Number((t as { nanos?: unknown }).nanos ?? 0) / 1e6;
  return NaN;
};

/**
 * A local activity's span from its marker: from its first scheduling (the marker's
 * `original_schedule_time`, sdk-core's LocalActivityMarkerData, the worker's wall clock) to the
 * end of the workflow task that ran it (the marker's event time: markers are recorded when that
 * task completes). The marker's `complete_time` is not a wall-clock time (sdk-core: the task's
 * start plus the activity's runtime), so it is not used. This counts the tail of that task (the
 * workflow code after the last local activity, the task's completion) as activity time.
 */
export function localActivitySpan(e: Event): ActivitySpan | undefined {
  const a = e.markerRecordedEventAttributes;
  if (a?.markerName !== 'core_local_activity') return undefined;
  const data = payloadJson(a.details?.data) as { activity_type?: string; attempt?: number; original_schedule_time?: unknown } | undefined;
  const closed = eventMs(e);
  const scheduled = timestampMs(data?.original_schedule_time);
  const from = Number.isFinite(scheduled) && scheduled <= closed ? scheduled : closed;
  return { type: data?.activity_type ?? '?', attempt: data?.attempt ?? 1, scheduled: from, started: from, closed, local: true };
}

/** What the time with no activity running went to, in ms (the first matching class wins at each instant). */
export interface OverheadBreakdown {
  /** WorkflowTaskStarted → Completed while no local activity ran: the worker running workflow code. */
  workflowTaskRunning: number;
  /** WorkflowTaskScheduled → Started: the server handing the task to the worker's (sticky) poll. */
  workflowTaskDispatch: number;
  /** ActivityTaskScheduled → Started while no other activity ran: the server handing the activity to a poll. */
  activityDispatch: number;
  /** SignalExternalWorkflowExecutionInitiated → ExternalWorkflowExecutionSignaled (telling the environment). */
  signalExternal: number;
  /** Timers (none in a plain deploy). */
  timer: number;
  /** The rest: the server between events (an activity's completion to the next workflow task's scheduling, the start to the first task). */
  server: number;
}

export interface WorkflowOverhead {
  breakdownMs: OverheadBreakdown;
  workflowTasks: number;
  /** Each workflow task's Started → Completed, in order, ms (the first creates the workflow in the worker). */
  workflowTaskMs: number[];
  /** Workflow tasks that scheduled at least one (non-local) activity: the sequential activity rounds. */
  activityRounds: number;
  localActivities: number;
  events: number;
}

type Span = [number, number];

/** Length of `spans` (merged) inside `within`, minus what `taken` already covers. */
function measure(spans: Span[], within: Span[], taken: Span[]): { ms: number; covered: Span[] } {
  const cut = (a: Span[], b: Span[]): Span[] => {
    // a ∩ b, both lists of spans
    const out: Span[] = [];
    for (const [a0, a1] of a) for (const [b0, b1] of b) if (Math.min(a1, b1) > Math.max(a0, b0)) out.push([Math.max(a0, b0), Math.min(a1, b1)]);
    return out;
  };
  const minus = (a: Span[], b: Span[]): Span[] => {
    let out = a;
    for (const [b0, b1] of b) {
      out = out.flatMap(([a0, a1]): Span[] => {
        if (b1 <= a0 || b0 >= a1) return [[a0, a1]];
        const parts: Span[] = [];
        if (b0 > a0) parts.push([a0, b0]);
        if (b1 < a1) parts.push([b1, a1]);
        return parts;
      });
    }
    return out;
  };
  const mine = minus(cut(spans, within), taken);
  return { ms: unionMs(mine), covered: [...taken, ...mine] };
}

/**
 * Where a workflow's time goes while none of its activities runs, read from its history's
 * event timestamps: the orchestration overhead, split by what the workflow waited on.
 */
export function workflowOverhead(events: Event[]): WorkflowOverhead {
  const open = new Map<string, number>();
  const wftRun: Span[] = [];
  const wftWait: Span[] = [];
  const actWait: Span[] = [];
  const actRun: Span[] = [];
  const signal: Span[] = [];
  const timers: Span[] = [];
  let workflowTasks = 0;
  const workflowTaskMs: number[] = [];
  let activityRounds = 0;
  let localActivities = 0;
  let lastWftCompleted = '';
  const start = events[0] ? eventMs(events[0]) : NaN;
  let end = events.at(-1) ? eventMs(events.at(-1)!) : NaN;
  for (const e of events) {
    const id = String(e.eventId);
    const t = eventMs(e);
    switch (e.eventType) {
      case E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        open.set(`wft:${id}`, t);
        break;
      case E.EVENT_TYPE_WORKFLOW_TASK_STARTED: {
        const sid = String(e.workflowTaskStartedEventAttributes?.scheduledEventId);
        wftWait.push([open.get(`wft:${sid}`) ?? t, t]);
        open.set(`wftrun:${id}`, t);
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
      case E.EVENT_TYPE_WORKFLOW_TASK_FAILED:
      case E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: {
        const a = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes;
        wftRun.push([open.get(`wftrun:${String(a?.startedEventId)}`) ?? t, t]);
        workflowTaskMs.push(round(t - wftRun.at(-1)![0]));
        workflowTasks++;
        lastWftCompleted = id;
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        open.set(`act:${id}`, t);
        if (lastWftCompleted === String(e.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId)) {
          activityRounds++;
          lastWftCompleted = '';
        }
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const sid = String(e.activityTaskStartedEventAttributes?.scheduledEventId);
        actWait.push([open.get(`act:${sid}`) ?? t, t]);
        open.set(`actrun:${sid}`, t);
        break;
      }
      case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const a =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes ??
          e.activityTaskCanceledEventAttributes;
        const sid = String(a?.scheduledEventId);
        actRun.push([open.get(`actrun:${sid}`) ?? open.get(`act:${sid}`) ?? t, t]);
        break;
      }
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        open.set(`sig:${id}`, t);
        break;
      case E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: {
        const a = e.externalWorkflowExecutionSignaledEventAttributes ?? e.signalExternalWorkflowExecutionFailedEventAttributes;
        signal.push([open.get(`sig:${String(a?.initiatedEventId)}`) ?? t, t]);
        break;
      }
      case E.EVENT_TYPE_TIMER_STARTED:
        open.set(`timer:${id}`, t);
        break;
      case E.EVENT_TYPE_TIMER_FIRED:
        timers.push([open.get(`timer:${String(e.timerFiredEventAttributes?.startedEventId)}`) ?? t, t]);
        break;
      case E.EVENT_TYPE_MARKER_RECORDED: {
        const la = localActivitySpan(e);
        if (la) {
          localActivities++;
          actRun.push([la.started, la.closed]);
        }
        break;
      }
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        end = t;
        break;
      default:
        break;
    }
  }
  const whole: Span[] = Number.isFinite(start) && Number.isFinite(end) ? [[start, end]] : [];
  let taken: Span[] = actRun;
  const take = (spans: Span[]): number => {
    const r = measure(spans, whole, taken);
    taken = r.covered;
    return round(r.ms);
  };
  const workflowTaskRunning = take(wftRun);
  const workflowTaskDispatch = take(wftWait);
  const activityDispatch = take(actWait);
  const signalExternal = take(signal);
  const timer = take(timers);
  const server = take(whole);
  return {
    breakdownMs: { workflowTaskRunning, workflowTaskDispatch, activityDispatch, signalExternal, timer, server },
    workflowTasks,
    workflowTaskMs,
    activityRounds,
    localActivities,
    events: events.length,
  };
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
