// `npm run bench:rollback [-- --repeats N --rate R]`: how fast `cutover rollback --wait` puts
// the old version back on every router, on the local world of bench:bluegreen (the Temporal dev
// server, two sandbox hosts with sshd + nginx + the sample app, a cutover worker in its own
// process). The CLI runs as a real process (`bin/cutover`, the compiled JavaScript in dist/), as
// a person or a CI job runs it. Each repeat deploys a new version (`deploy --wait`, teardown 30m,
// so the old colour stays alive), then times `rollback --wait` under a steady load through both
// routers while each router is polled on its own connections. The workflow histories say where
// the time goes. Then the start-up time of short CLI commands. Results:
// bench/results/rollback-*.json.
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { localTemporal } from '../config/temporal';
import { temporal } from '@temporalio/proto';
import { childWorkflowIds, envWorkflowId } from '../contract';
import { startSandbox, writeSandboxConfig, type Sandbox } from '../sandbox/config';
import { startDevServer, type DevServer } from '../sandbox/devserver';
import { startLoad, type LoadStats } from '../sandbox/load';
import type { SandboxHost } from '../sandbox/world';
import { eventMs, interrupted, intArg, localActivitySpan, REPO, round, sleep, startWorkerProcess, table, within, writeResults, type WorkerProcess } from './common';

const REPEATS = intArg('repeats', 10, 50);
const RATE = intArg('rate', 200, 1000);
const POLL_MS = 10;
const CLI_STARTS = intArg('cli-starts', 10, 50);
const APP = 'shop';
const ENV = 'bench';
const OLD = 'v1';
const NEW_VERSIONS = ['v2', 'v3'];
const CLI_LIMIT_MS = 120_000;
const TOTAL_LIMIT_MS = 15 * 60_000;
/** Load before the command is spawned and after it exited. */
const SETTLE_MS = 300;
/** After a deploy returned, before the rollback's load starts: the old nginx workers retire. */
const AFTER_DEPLOY_MS = 1000;
const BIN = join(REPO, 'bin', 'cutover');

const E = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

/** Wall-clock ms with sub-ms resolution, comparable with Temporal's event times (same machine). */
const now = (): number => performance.timeOrigin + performance.now();

// ---------- figures ----------

interface Spread {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  min: number;
  max: number;
  /** max - min */
  spread: number;
  stdev: number;
}

/** Nearest-rank percentiles (p50 of 10 values = the 5th, p90 = the 9th). */
function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { n: 0, mean: NaN, p50: NaN, p90: NaN, min: NaN, max: NaN, spread: NaN, stdev: NaN };
  const s = [...v].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const stdev = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { n: v.length, mean: round(mean), p50: round(rank(50)), p90: round(rank(90)), min: round(s[0]!), max: round(s.at(-1)!), spread: round(s.at(-1)! - s[0]!), stdev: round(stdev) };
}

// ---------- the CLI as a process ----------

interface CliRun {
  args: string[];
  code: number | null;
  spawnedAt: number;
  exitedAt: number;
  ms: number;
  stdout: string;
  stderr: string;
  /** bin/cutover recompiled dist/ first (a source changed since the last build): not a start-up figure. */
  rebuilt: boolean;
  /** When each chunk of output arrived (the CLI writes a line at a time), with its first line. */
  chunks: { at: number; text: string }[];
}

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A person at a terminal; the ids come from --key, not from a CI the benchmark might run in.
  for (const k of ['GITLAB_CI', 'CI_PIPELINE_ID', 'GITHUB_ACTIONS', 'GITHUB_RUN_ID', 'CUTOVER_CONFIG', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE']) delete env[k];
  return env;
}

function runProcess(file: string, args: string[], timeoutMs = CLI_LIMIT_MS): Promise<CliRun> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const spawnedAt = now();
    const child = spawn(file, args, { cwd: REPO, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const chunks: CliRun['chunks'] = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      chunks.push({ at: now(), text: d.toString() });
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      chunks.push({ at: now(), text: d.toString() });
    });
    let exitedAt = NaN;
    let code: number | null = null;
    child.once('exit', (c) => {
      exitedAt = now();
      code = c;
    });
    child.once('error', (err) => {
      stderr += String(err);
    });
    child.once('close', () => {
      clearTimeout(timer);
      if (!Number.isFinite(exitedAt)) exitedAt = now();
      resolve({ args, code, spawnedAt, exitedAt, ms: round(exitedAt - spawnedAt), stdout, stderr, rebuilt: /compiling the CLI/.test(stderr), chunks });
    });
  });
}

const cutover = (args: string[]): Promise<CliRun> => runProcess(BIN, args);

// ---------- each router, polled on its own connections ----------

interface Answer {
  sentAt: number;
  at: number;
  status: number;
  version: string | null;
}

function getOnce(url: string): Promise<Answer> {
  return new Promise((resolve) => {
    const sentAt = now();
    const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: 2000 }, (res) => {
      const at = now();
      const h = res.headers['x-app-version'];
      res.resume();
      res.on('end', () => resolve({ sentAt, at, status: res.statusCode ?? 0, version: typeof h === 'string' ? h : null }));
      res.on('error', () => resolve({ sentAt, at, status: 0, version: null }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ sentAt, at: now(), status: 0, version: null }));
  });
}

/** One request at a time per router, a new one every POLL_MS (or right after a slower answer). */
function pollRouter(url: string): { stop(): Promise<Answer[]> } {
  const answers: Answer[] = [];
  let stopped = false;
  const loop = async (): Promise<void> => {
    let next = now();
    while (!stopped) {
      answers.push(await getOnce(url));
      next += POLL_MS;
      const wait = next - now();
      if (wait > 0) await sleep(wait);
      else next = now();
    }
  };
  const done = loop();
  return {
    async stop() {
      stopped = true;
      await done;
      return answers;
    },
  };
}

interface RouterFigures {
  url: string;
  /** Spawn -> first answer (headers received) carrying the old version. */
  firstOldMs: number;
  /** Spawn -> the first old answer after which no other version answered until the poll ended. */
  stableOldMs: number;
  /** Answers of another version (or failed) after the first old one. */
  notOldAfterFirstOld: number;
  /** Polls during the rollback, and the mean gap between their send times (the resolution). */
  polls: number;
  meanPollGapMs: number;
  failedPolls: number;
}

function routerFigures(url: string, answers: Answer[], spawnedAt: number, old: string): RouterFigures {
  const after = answers.filter((a) => a.sentAt >= spawnedAt);
  const firstOld = after.findIndex((a) => a.version === old && a.status === 200);
  let lastNotOld = -1;
  after.forEach((a, i) => {
    if (a.version !== old || a.status !== 200) lastNotOld = i;
  });
  const stable = lastNotOld + 1 < after.length ? after[lastNotOld + 1] : undefined;
  const gaps = after.slice(1).map((a, i) => a.sentAt - after[i]!.sentAt);
  return {
    url,
    firstOldMs: firstOld >= 0 ? round(after[firstOld]!.at - spawnedAt) : NaN,
    stableOldMs: stable && stable.version === old ? round(stable.at - spawnedAt) : NaN,
    notOldAfterFirstOld: firstOld >= 0 ? after.slice(firstOld + 1).filter((a) => a.version !== old || a.status !== 200).length : 0,
    polls: after.length,
    meanPollGapMs: round(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length), 2),
    failedPolls: after.filter((a) => a.status !== 200).length,
  };
}

// ---------- the histories ----------

const payload = (p: temporal.api.common.v1.IPayloads | null | undefined): unknown => {
  const data = p?.payloads?.[0]?.data;
  try {
    return data && data.length > 0 ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
};

interface Timeline {
  /** The environment workflow's WorkflowExecutionSignaled carrying this rollback. */
  signaled: number;
  /** Its StartChildWorkflowExecutionInitiated (the environment's workflow task that reacted). */
  childInitiated: number;
  /** The rollback workflow's WorkflowExecutionStarted. */
  childStarted: number;
  firstSwitchScheduled: number;
  firstSwitchStarted: number;
  firstSwitchCompleted: number;
  lastSwitchCompleted: number;
  lastVerifyCompleted: number;
  lastStopCompleted: number;
  /** The `traffic` Update's WorkflowExecutionUpdateCompleted: the answer `rollback --wait` waits for. */
  trafficAnswered: number;
  /** The rollback workflow's WorkflowExecutionCompleted. */
  childClosed: number;
  /** The environment's ChildWorkflowExecutionCompleted. */
  envSawChildClosed: number;
  childEvents: number;
  activities: { type: string; attempt: number; scheduled: number; started: number; closed: number; local?: boolean }[];
}

async function rollbackTimeline(client: Client, rollbackId: string): Promise<Timeline> {
  const envEvents = (await client.workflow.getHandle(envWorkflowId(APP, ENV)).fetchHistory()).events ?? [];
  const childEvents = (await client.workflow.getHandle(rollbackId).fetchHistory()).events ?? [];
  const find = (events: Event[], pred: (e: Event) => boolean): number => {
    const e = events.find(pred);
    return e ? eventMs(e) : NaN;
  };
  const signaled = find(
    envEvents,
    (e) =>
      e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED &&
      e.workflowExecutionSignaledEventAttributes?.signalName === 'rollback' &&
      (payload(e.workflowExecutionSignaledEventAttributes?.input) as { rollbackId?: string } | undefined)?.rollbackId === rollbackId,
  );
  const childInitiated = find(
    envEvents,
    (e) => e.eventType === E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED && e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === rollbackId,
  );
  const envSawChildClosed = find(
    envEvents,
    (e) => e.eventType === E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED && e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId === rollbackId,
  );
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, { at: number; attempt: number }>();
  const activities: Timeline['activities'] = [];
  for (const e of childEvents) {
    if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      scheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', at: eventMs(e) });
    } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      started.set(String(e.activityTaskStartedEventAttributes?.scheduledEventId), { at: eventMs(e), attempt: e.activityTaskStartedEventAttributes?.attempt ?? 1 });
    } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const id = String(e.activityTaskCompletedEventAttributes?.scheduledEventId);
      const s = scheduled.get(id);
      const st = started.get(id);
      if (s) activities.push({ type: s.type, attempt: st?.attempt ?? 1, scheduled: s.at, started: st?.at ?? NaN, closed: eventMs(e) });
    } else if (e.eventType === E.EVENT_TYPE_MARKER_RECORDED) {
      // Verification runs as a local activity (workflows/steps/activities.ts readOps).
      const la = localActivitySpan(e);
      if (la) activities.push(la);
    }
  }
  const of = (type: string) => activities.filter((a) => a.type === type);
  const min = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN);
  const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN);
  const switches = of('switchRouter');
  return {
    signaled,
    childInitiated,
    childStarted: childEvents[0] ? eventMs(childEvents[0]) : NaN,
    firstSwitchScheduled: min(switches.map((a) => a.scheduled)),
    firstSwitchStarted: min(switches.map((a) => a.started)),
    firstSwitchCompleted: min(switches.map((a) => a.closed)),
    lastSwitchCompleted: max(switches.map((a) => a.closed)),
    lastVerifyCompleted: max(of('verifyRouter').map((a) => a.closed)),
    lastStopCompleted: max(of('stopSlot').map((a) => a.closed)),
    trafficAnswered: find(childEvents, (e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED),
    childClosed: find(childEvents, (e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED),
    envSawChildClosed,
    childEvents: childEvents.length,
    activities,
  };
}

/** Consecutive phases from the spawn to the exit: they add up to cliReturnMs. */
const PHASES = [
  ['spawnToSignaled', 'CLI spawn -> WorkflowExecutionSignaled on the environment workflow (node start, config, connect, signalWithStart)'],
  ['signaledToChildStarted', 'signal -> rollback child WorkflowExecutionStarted (environment workflow task, start child)'],
  ['childStartedToSwitchScheduled', 'child started -> first switchRouter ActivityTaskScheduled (first workflow task of the child)'],
  ['switchScheduledToSwitchCompleted', 'first switchRouter scheduled -> last switchRouter completed (both hosts in parallel: write, nginx -t, reload over SSH)'],
  ['switchCompletedToVerifyCompleted', 'last switchRouter completed -> last verifyRouter completed (5 answers in a row, curl on each host; local activities inside the next workflow task)'],
  ['verifyCompletedToAnswered', 'last verifyRouter completed -> the traffic Update completed (WorkflowExecutionUpdateCompleted: the answer rollback --wait waits for)'],
  ['answeredToCliExit', 'traffic Update completed -> CLI process exit (the Update reaching the CLI, a last progress query, connection close, node exit)'],
] as const;
type Phase = (typeof PHASES)[number][0];

function phases(t: Timeline, spawnedAt: number, exitedAt: number): Record<Phase, number> {
  const points = [spawnedAt, t.signaled, t.childStarted, t.firstSwitchScheduled, t.lastSwitchCompleted, t.lastVerifyCompleted, t.trafficAnswered, exitedAt];
  return Object.fromEntries(PHASES.map(([name], i) => [name, round(points[i + 1]! - points[i]!)])) as Record<Phase, number>;
}

// ---------- the runs ----------

interface RollbackRun {
  index: number;
  deployed: string;
  rollbackId: string;
  ok: boolean;
  problems: string[];
  loadAverage1m: number;
  /** What each router answered (X-App-Version) and each upstream file held: before the deploy, before and after the rollback. */
  served: { beforeDeploy: string[]; beforeRollback: string[]; afterRollback: string[]; upstreamBeforeRollback: string[]; upstreamAfterRollback: string[] };
  deploy: { exitCode: number | null; cliReturnMs: number; requestsSent: number; requestsFailed: number; staleRetries: number; rebuilt: boolean };
  exitCode: number | null;
  rebuilt: boolean;
  cliReturnMs: number;
  commandToAllRoutersMs: number;
  commandToAllRoutersStableMs: number;
  routers: RouterFigures[];
  requestsSent: number;
  requestsFailed: number;
  staleRetries: number;
  failures: string[];
  /** All routers serve the old version, relative to the last switchRouter's ActivityTaskCompleted (negative: before the event). */
  allRoutersMinusSwitchCompletedMs: number;
  breakdownMs: Record<Phase, number>;
  extraMs: {
    signaledToChildInitiated: number;
    switchQueuedMs: number;
    firstToLastSwitchCompletedMs: number;
    childClosedToEnvSawItMs: number;
    /** After the CLI answered: the rolled-back colour stopped on the last host, the rollback completed (spawn = 0; the benchmark's poll, 20 ms). */
    spawnToStopCompletedMs: number;
    spawnToChildClosedMs: number;
    spawnToGreenSeenStoppedMs: number;
    /** Spawn -> the CLI's "rollback ... requested" line (printed once signalWithStart returned). */
    spawnToRequestedLineMs: number;
    /** The environment's WorkflowExecutionSignaled -> that line reached the benchmark. */
    signaledToRequestedLineMs: number;
    /** The traffic Update completed -> the CLI's last output line (its summary). */
    answeredToLastLineMs: number;
    /** The last output line -> the process exit (closing the connection, node exiting). */
    lastLineToExitMs: number;
  };
  historyEvents: number;
  /** The rollback CLI's output, each chunk's first line with its time since the spawn. */
  cliOutput: { ms: number; line: string }[];
  activities: { type: string; local?: boolean; attempt: number; queuedMs: number; ranMs: number; scheduledAtMs: number }[];
  output?: string[];
}

const loadFigures = (s: LoadStats) => ({ requestsSent: s.sent, requestsFailed: s.failed, staleRetries: s.staleRetries });

async function run(): Promise<void> {
  const startedAt = Date.now();
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const say = (s: string): void => console.log(`[bench] ${s}`);
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const code = { commit: git(['rev-parse', 'HEAD']), changedFiles: git(['status', '--short']).split('\n').filter(Boolean) };

  // Build once before timing anything: bin/cutover then only checks that dist/ is current.
  const b0 = now();
  execFileSync('bash', [join(REPO, 'scripts', 'build.sh')], { cwd: REPO, stdio: 'inherit' });
  const buildMs = round(now() - b0);
  say(`scripts/build.sh: ${buildMs} ms`);

  const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-rollback-'));
  let server: DevServer | undefined;
  let sandbox: Sandbox | undefined;
  let worker: WorkerProcess | undefined;
  let client: Client | undefined;
  let failed = false;
  try {
    say(`world in ${dir}: dev server, 2 hosts (sshd + nginx + app), worker process`);
    server = await startDevServer({ dir });
    sandbox = await startSandbox({
      base: join(dir, 'hosts'),
      app: APP,
      env: ENV,
      releases: Object.fromEntries([OLD, ...NEW_VERSIONS].map((v) => [v, undefined])),
      initial: { color: 'blue', version: OLD },
    });
    const hosts: SandboxHost[] = sandbox.hosts;
    worker = await startWorkerProcess(server.address, join(dir, 'worker.log'));
    client = new Client({ connection: await Connection.connect(await localTemporal(server.address)) });
    const config = writeSandboxConfig(join(dir, 'cutover.yml'), hosts, {
      app: APP,
      env: ENV,
      // Long: the old colour is alive during every rollback; no teardown runs in the benchmark.
      teardownDelay: '30m',
      temporal: { address: server.address, uiUrl: server.uiUrl },
    });
    const urls = hosts.map((h) => h.url);
    const answering = async (): Promise<string[]> => (await Promise.all(urls.map(getOnce))).map((a) => (a.status === 200 ? (a.version ?? '?') : `HTTP ${a.status}`));
    const upstreams = (): string[] => hosts.map((h) => /color=(\w+) version=(\S+)/.exec(h.readUpstream())?.slice(1).join(':') ?? '-');
    let key = 0;

    const repeat = async (index: number): Promise<RollbackRun> => {
      if (interrupted.value) throw new Error('interrupted');
      if (Date.now() - startedAt > TOTAL_LIMIT_MS) throw new Error(`benchmark time limit (${TOTAL_LIMIT_MS} ms) reached`);
      const version = NEW_VERSIONS[index % NEW_VERSIONS.length]!;
      const problems: string[] = [];
      const output: string[] = [];
      const beforeDeploy = await answering();
      if (!beforeDeploy.every((v) => v === OLD)) problems.push(`before the deploy the routers answer ${beforeDeploy.join(',')}, not ${OLD}`);

      // The deploy: new version in the idle colour; the old colour is kept for 30 minutes.
      const deployLoad = startLoad(urls, RATE, CLI_LIMIT_MS + 10_000);
      await sleep(SETTLE_MS);
      const d = await cutover(['-c', config, 'deploy', APP, ENV, version, '--wait', '--key', `bench-${++key}`]);
      await sleep(SETTLE_MS);
      const deployStats = await deployLoad.stop();
      if (d.code !== 0) {
        problems.push(`deploy ${version} exited ${d.code}`);
        output.push(d.stdout, d.stderr);
      }
      const oldColour = 'blue';
      if (hosts.some((h) => h.pidOf(oldColour) === null)) problems.push(`${oldColour} (${OLD}) is not running after the deploy: nothing to roll back to`);
      await sleep(AFTER_DEPLOY_MS);

      // The rollback, timed: load and one poller per router from SETTLE_MS before the spawn.
      const rollbackKey = `bench-${++key}`;
      const rollbackId = childWorkflowIds.rollback(APP, ENV, rollbackKey);
      const beforeRollback = await answering();
      const upstreamBeforeRollback = upstreams();
      if (!beforeRollback.every((v) => v === version)) problems.push(`before the rollback the routers answer ${beforeRollback.join(',')}, not ${version}`);
      if (!upstreamBeforeRollback.every((u) => u === `green:${version}`)) problems.push(`after the deploy the upstream files say ${upstreamBeforeRollback.join(',')}, not green:${version}`);
      const loadAverage1m = round(loadavg()[0]!, 2);
      const load = startLoad(urls, RATE, CLI_LIMIT_MS + 10_000);
      const pollers = urls.map(pollRouter);
      await sleep(SETTLE_MS);
      const r = await cutover(['-c', config, 'rollback', APP, ENV, '--wait', '--key', rollbackKey]);
      await sleep(SETTLE_MS);
      const polled = await Promise.all(pollers.map((p) => p.stop()));
      const stats = await load.stop();
      const afterRollback = await answering();
      const upstreamAfterRollback = upstreams();
      if (r.code !== 0) {
        problems.push(`rollback exited ${r.code}`);
        output.push(r.stdout, r.stderr);
      }
      if (!afterRollback.every((v) => v === OLD)) problems.push(`after the rollback the routers answer ${afterRollback.join(',')}, not ${OLD}`);
      if (!upstreamAfterRollback.every((u) => u === `${oldColour}:${OLD}`)) problems.push(`after the rollback the upstream files say ${upstreamAfterRollback.join(',')}`);
      // --wait answers before the rolled-back colour is stopped; the rollback then completes.
      const stopDeadline = Date.now() + 30_000;
      while (hosts.some((h) => h.pidOf('green') !== null) && Date.now() < stopDeadline) await sleep(20);
      const greenStoppedMs = round(now() - r.spawnedAt);
      if (hosts.some((h) => h.pidOf('green') !== null)) problems.push('green (the rolled-back colour) still runs 30 s after the rollback answered');
      await within('the rollback workflow to complete', 30_000, client!.workflow.getHandle(rollbackId).result()).catch((err: unknown) => void problems.push(`the rollback workflow did not complete: ${String(err)}`));
      if (stats.failed > 0) problems.push(`${stats.failed} load requests failed during the rollback`);

      const routers = urls.map((u, i) => routerFigures(u, polled[i]!, r.spawnedAt, OLD));
      const commandToAllRoutersMs = round(Math.max(...routers.map((x) => x.firstOldMs)));
      const t = await rollbackTimeline(client!, rollbackId);
      const breakdownMs = phases(t, r.spawnedAt, r.exitedAt);
      const requestedAt = r.chunks.find((c) => /rollback of \S+ requested by/.test(c.text))?.at ?? NaN;
      const lastLineAt = r.chunks.at(-1)?.at ?? NaN;
      const ok = problems.length === 0 && Number.isFinite(commandToAllRoutersMs) && Object.values(breakdownMs).every(Number.isFinite);
      if (!ok && problems.length === 0) problems.push('a timing is missing (router never served the old version, or a history event is missing)');
      const result: RollbackRun = {
        index,
        deployed: version,
        rollbackId,
        ok,
        problems,
        loadAverage1m,
        served: { beforeDeploy, beforeRollback, afterRollback, upstreamBeforeRollback, upstreamAfterRollback },
        deploy: { exitCode: d.code, cliReturnMs: d.ms, ...loadFigures(deployStats), rebuilt: d.rebuilt },
        exitCode: r.code,
        rebuilt: r.rebuilt,
        cliReturnMs: r.ms,
        commandToAllRoutersMs,
        commandToAllRoutersStableMs: round(Math.max(...routers.map((x) => x.stableOldMs))),
        routers,
        ...loadFigures(stats),
        failures: stats.failures.slice(0, 5),
        allRoutersMinusSwitchCompletedMs: round(r.spawnedAt + commandToAllRoutersMs - t.lastSwitchCompleted),
        breakdownMs,
        extraMs: {
          signaledToChildInitiated: round(t.childInitiated - t.signaled),
          switchQueuedMs: round(t.firstSwitchStarted - t.firstSwitchScheduled),
          firstToLastSwitchCompletedMs: round(t.lastSwitchCompleted - t.firstSwitchCompleted),
          childClosedToEnvSawItMs: round(t.envSawChildClosed - t.childClosed),
          spawnToStopCompletedMs: round(t.lastStopCompleted - r.spawnedAt),
          spawnToChildClosedMs: round(t.childClosed - r.spawnedAt),
          spawnToGreenSeenStoppedMs: greenStoppedMs,
          spawnToRequestedLineMs: round(requestedAt - r.spawnedAt),
          signaledToRequestedLineMs: round(requestedAt - t.signaled),
          answeredToLastLineMs: round(lastLineAt - t.trafficAnswered),
          lastLineToExitMs: round(r.exitedAt - lastLineAt),
        },
        historyEvents: t.childEvents,
        cliOutput: r.chunks.map((c) => ({ ms: round(c.at - r.spawnedAt), line: c.text.split('\n')[0]!.slice(0, 160) })),
        activities: t.activities.map((a) => ({ type: a.type, ...(a.local ? { local: true } : {}), attempt: a.attempt, queuedMs: round(a.started - a.scheduled), ranMs: round(a.closed - a.started), scheduledAtMs: round(a.scheduled - r.spawnedAt) })),
      };
      if (!ok) result.output = output.join('\n').split('\n').filter(Boolean).slice(-20);
      say(
        `#${index} ${version} -> ${OLD}: ${ok ? 'ok' : `FAILED (${problems.join('; ')})`}; all routers on ${OLD} after ${commandToAllRoutersMs} ms, CLI exit ${r.code} after ${r.ms} ms; load ${stats.sent} sent / ${stats.failed} failed`,
      );
      return result;
    };

    say('warm-up: one unmeasured deploy + rollback');
    const warmup = await repeat(0);
    if (!warmup.ok) throw new Error(`warm-up failed: ${warmup.problems.join('; ')}\n${(warmup.output ?? []).join('\n')}`);
    const runs: RollbackRun[] = [];
    for (let i = 1; i <= REPEATS; i++) runs.push(await repeat(i));

    // Start-up of short commands, the load stopped (the world idles: apps, nginx, sshd, worker, dev server).
    say(`CLI start-up: ${CLI_STARTS} runs each, interleaved`);
    const starts: Record<string, CliRun[]> = { help: [], validate: [], status: [], launcherCheck: [], nodeHelp: [], nodeBare: [] };
    const startProblems: string[] = [];
    for (let i = 0; i < CLI_STARTS; i++) {
      if (interrupted.value) throw new Error('interrupted');
      starts.help!.push(await cutover(['--help']));
      starts.validate!.push(await cutover(['-c', config, 'validate']));
      starts.status!.push(await cutover(['-c', config, 'status', APP, ENV]));
      // Its parts: the launcher's dist/ check, node running the compiled CLI directly, node itself.
      starts.launcherCheck!.push(await runProcess('bash', [join(REPO, 'scripts', 'build.sh')]));
      starts.nodeHelp!.push(await runProcess(process.execPath, [join(REPO, 'dist', 'cli', 'bin.mjs'), '--help']));
      starts.nodeBare!.push(await runProcess(process.execPath, ['-e', '']));
    }
    for (const [name, rs] of Object.entries(starts)) {
      for (const x of rs) if (x.code !== 0) startProblems.push(`${name}: exit ${x.code}: ${x.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    if (!starts.status!.every((x) => /^live:\s+blue v1/m.test(x.stdout))) startProblems.push(`status printed no live line: ${starts.status![0]?.stdout.slice(0, 300)}`);
    const startFigure = (rs: CliRun[]) => ({ ...spread(rs.filter((x) => !x.rebuilt).map((x) => x.ms)), runs: rs.length, rebuilt: rs.filter((x) => x.rebuilt).length, failed: rs.filter((x) => x.code !== 0).length });
    const cliStartMs = {
      help: startFigure(starts.help!),
      validate: startFigure(starts.validate!),
      status: startFigure(starts.status!),
      components: {
        launcherCheck: startFigure(starts.launcherCheck!),
        nodeDistCliHelp: startFigure(starts.nodeHelp!),
        nodeBare: startFigure(starts.nodeBare!),
      },
    };

    const ok = runs.filter((x) => x.ok);
    const timed = ok.filter((x) => !x.rebuilt);
    const breakdownSpreadMs = Object.fromEntries(PHASES.map(([p]) => [p, spread(timed.map((x) => x.breakdownMs[p]))])) as Record<Phase, Spread>;
    const breakdownMs = Object.fromEntries(PHASES.map(([p]) => [p, breakdownSpreadMs[p].mean])) as Record<Phase, number>;
    const loadAtEnd = loadavg().map((l) => round(l, 2));
    const result = {
      benchmark: 'rollback',
      at: new Date(startedAt).toISOString(),
      machine: { cores: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd, loadAverage1mBeforeEachRollback: spread(runs.map((x) => x.loadAverage1m)) },
      code: { ...code, buildMs },
      settings: { repeats: REPEATS, warmupRepeats: 1, ratePerSecond: RATE, routers: urls.length, hosts: hosts.length, pollEveryMs: POLL_MS, settleMs: SETTLE_MS, afterDeployMs: AFTER_DEPLOY_MS, teardownDelay: '30m', cliStartRuns: CLI_STARTS },
      rollback: {
        repeats: runs.length,
        succeeded: ok.length,
        exitCodes: runs.map((x) => x.exitCode),
        rebuiltDuringRun: runs.filter((x) => x.rebuilt).length,
        commandToAllRoutersMs: spread(timed.map((x) => x.commandToAllRoutersMs)),
        commandToAllRoutersStableMs: spread(timed.map((x) => x.commandToAllRoutersStableMs)),
        commandToEachRouterMs: urls.map((u, i) => ({ url: u, ...spread(timed.map((x) => x.routers[i]!.firstOldMs)) })),
        cliReturnMs: spread(timed.map((x) => x.cliReturnMs)),
        allRoutersMinusSwitchCompletedMs: spread(timed.map((x) => x.allRoutersMinusSwitchCompletedMs)),
        notOldAnswersAfterFirstOld: runs.reduce((a, x) => a + x.routers.reduce((b, y) => b + y.notOldAfterFirstOld, 0), 0),
        failedPolls: runs.reduce((a, x) => a + x.routers.reduce((b, y) => b + y.failedPolls, 0), 0),
        meanPollGapMs: round(runs.flatMap((x) => x.routers.map((y) => y.meanPollGapMs)).reduce((a, b) => a + b, 0) / Math.max(1, runs.length * urls.length), 2),
        requestsSent: runs.reduce((a, x) => a + x.requestsSent, 0),
        requestsFailed: runs.reduce((a, x) => a + x.requestsFailed, 0),
        staleRetries: runs.reduce((a, x) => a + x.staleRetries, 0),
        requestsSentPerRollback: spread(runs.map((x) => x.requestsSent)),
        historyEvents: spread(timed.map((x) => x.historyEvents)),
      },
      breakdownMs,
      breakdownSpreadMs,
      breakdownExtraMs: {
        signaledToChildInitiated: spread(timed.map((x) => x.extraMs.signaledToChildInitiated)),
        switchQueued: spread(timed.map((x) => x.extraMs.switchQueuedMs)),
        firstToLastSwitchCompleted: spread(timed.map((x) => x.extraMs.firstToLastSwitchCompletedMs)),
        childClosedToEnvSawIt: spread(timed.map((x) => x.extraMs.childClosedToEnvSawItMs)),
        spawnToStopCompleted: spread(timed.map((x) => x.extraMs.spawnToStopCompletedMs)),
        spawnToChildClosed: spread(timed.map((x) => x.extraMs.spawnToChildClosedMs)),
        spawnToRequestedLine: spread(timed.map((x) => x.extraMs.spawnToRequestedLineMs)),
        signaledToRequestedLine: spread(timed.map((x) => x.extraMs.signaledToRequestedLineMs)),
        answeredToLastLine: spread(timed.map((x) => x.extraMs.answeredToLastLineMs)),
        lastLineToExit: spread(timed.map((x) => x.extraMs.lastLineToExitMs)),
      },
      breakdownPhases: Object.fromEntries(PHASES),
      deploys: {
        exitCodes: runs.map((x) => x.deploy.exitCode),
        cliReturnMs: spread(runs.map((x) => x.deploy.cliReturnMs)),
        requestsSent: runs.reduce((a, x) => a + x.deploy.requestsSent, 0),
        requestsFailed: runs.reduce((a, x) => a + x.deploy.requestsFailed, 0),
        staleRetries: runs.reduce((a, x) => a + x.deploy.staleRetries, 0),
      },
      cliStartMs,
      cliStartProblems: startProblems,
      notes: [
        `Each repeat: deploy v2 or v3 (alternating) with \`bin/cutover deploy ... --wait\` into the idle colour (green; teardownDelay 30m keeps blue ${OLD} alive), wait ${AFTER_DEPLOY_MS} ms, then \`bin/cutover rollback shop bench --wait\` back to blue ${OLD}. Every deploy goes to the colour that is not live; every rollback's target is checked on the routers (X-App-Version before and after) and in the upstream files, and green must be stopped afterwards. One unmeasured warm-up repeat first.`,
        'The CLI is a real process, bin/cutover (bash launcher, scripts/build.sh check that dist/ is current, node dist/cli/bin.mjs: the bundled CLI through its V8 code cache), spawned by the benchmark; times are from spawn() to the child\'s exit event. scripts/build.sh ran once before anything was timed; a run whose stderr says it recompiled is counted in "rebuilt" and left out of the timings.',
        `commandToAllRoutersMs: spawn -> the first answer (response headers received) carrying X-App-Version ${OLD} through the LAST of the two routers. Each router is polled by its own loop, one request at a time, a new request every ${POLL_MS} ms, each on a new connection (agent: false, Connection: close), so the resolution is about ${POLL_MS} ms plus one request. commandToAllRoutersStableMs is the first old answer after which no other version answered until the poll ended (${SETTLE_MS} ms after the CLI exit).`,
        `Load: ${RATE} requests/s in total, round-robin over both routers (sandbox/load.ts, keep-alive), from ${SETTLE_MS} ms before the rollback's spawn to ${SETTLE_MS} ms after its exit; requestsSent/Failed count every request of those windows. The deploys had their own load windows (deploys.*).`,
        'breakdownMs: per-phase means over the measured repeats, from the histories: the environment workflow\'s WorkflowExecutionSignaled (this rollback\'s id in the signal input), the rollback workflow\'s WorkflowExecutionStarted, the first switchRouter ActivityTaskScheduled, the last switchRouter ActivityTaskCompleted (both hosts run in parallel, the phase ends when the slower is done), the last verifyRouter completion (a local activity: the end of the workflow task that ran it, its marker\'s event time), the traffic Update\'s WorkflowExecutionUpdateCompleted, and the CLI\'s exit. The phases are consecutive and add up to cliReturnMs. `rollback --wait` answers once the traffic Update has (traffic back and verified); stopping the rolled-back colour and the rollback\'s completion follow (breakdownExtraMs.spawnToStopCompleted / spawnToChildClosed), and green must be stopped within 30 s after. Event times are the dev server\'s clock, the spawn/exit times the benchmark\'s; both are this machine\'s clock.',
        'allRoutersMinusSwitchCompletedMs: when both routers answered with the old version, relative to the last switchRouter ActivityTaskCompleted; negative means the routers served the old version before the server recorded the switch as done (the reload happens inside the activity, its result travels back afterwards).',
        'cliStartMs: spawn -> exit of `bin/cutover --help`, `bin/cutover -c <cfg> validate`, `bin/cutover -c <cfg> status shop bench` (against the running dev server and worker, after the rollbacks, no load), interleaved. components: `bash scripts/build.sh` when dist/ is current (the launcher\'s check), `node dist/cli/bin.mjs --help` (no bash launcher), `node -e ""` (node itself).',
      ],
      runs,
      warmup,
    };
    const file = writeResults('rollback', result);
    const fmt = (s: Spread): string => `${s.mean} / ${s.p50} / ${s.p90} / ${s.min} / ${s.max} (spread ${s.spread})`;
    const rb = result.rollback;
    console.log('');
    console.log(
      table([
        ['figure (ms unless said)', 'mean / p50 / p90 / min / max'],
        ['rollbacks ok', `${rb.succeeded}/${rb.repeats} (exit codes ${rb.exitCodes.join(',')})`],
        ['command -> all routers old', fmt(rb.commandToAllRoutersMs)],
        ['command -> all routers old, stable', fmt(rb.commandToAllRoutersStableMs)],
        ['CLI return', fmt(rb.cliReturnMs)],
        ['requests sent / failed (rollbacks)', `${rb.requestsSent} / ${rb.requestsFailed} (${rb.staleRetries} stale retries)`],
        ...PHASES.map(([p]) => [`  ${p}`, fmt(breakdownSpreadMs[p])]),
        ['all routers old - switch completed', fmt(rb.allRoutersMinusSwitchCompletedMs)],
        ['  spawn -> "requested" line', fmt(result.breakdownExtraMs.spawnToRequestedLine)],
        ['  traffic answered -> last CLI line', fmt(result.breakdownExtraMs.answeredToLastLine)],
        ['  last CLI line -> exit', fmt(result.breakdownExtraMs.lastLineToExit)],
        ['after the answer: spawn -> rolled-back colour stopped', fmt(result.breakdownExtraMs.spawnToStopCompleted)],
        ['after the answer: spawn -> rollback completed', fmt(result.breakdownExtraMs.spawnToChildClosed)],
        ['answers of the new version after the first old one', String(rb.notOldAnswersAfterFirstOld)],
        ['CLI start --help', fmt(cliStartMs.help)],
        ['CLI start validate', fmt(cliStartMs.validate)],
        ['CLI start status', fmt(cliStartMs.status)],
        ['  launcher check (build.sh)', fmt(cliStartMs.components.launcherCheck)],
        ['  node dist/cli/bin.mjs --help', fmt(cliStartMs.components.nodeDistCliHelp)],
        ['  node -e ""', fmt(cliStartMs.components.nodeBare)],
        ['deploy CLI return', fmt(result.deploys.cliReturnMs)],
        ['load average start / end', `${loadAtStart.join(' ')} / ${loadAtEnd.join(' ')}`],
      ]),
    );
    console.log(`\nresults: ${file}`);
    failed = runs.some((x) => !x.ok) || startProblems.length > 0;
    if (startProblems.length) console.error(`CLI start problems:\n${startProblems.join('\n')}`);
  } catch (err) {
    failed = true;
    console.error(err);
    say(`kept ${dir} for inspection`);
  } finally {
    await client?.connection.close().catch(() => undefined);
    await worker?.stop().catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
  if (!failed && !process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

void run();
