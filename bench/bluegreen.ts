// `npm run bench:bluegreen [-- --deploys N --rate R --passes quiet,hog]`: cutover against a
// plain bash pipeline (bench/baseline.sh) on the local world: the Temporal dev server, two
// sandbox hosts (sshd + nginx + the sample app in two slots) and a cutover worker in its own
// process. Each pass runs N deploys per side, interleaved (cutover, baseline, cutover, ...),
// each under a steady load through both routers; the `hog` pass keeps one core busy with
// `stress-ng --cpu 1` throughout. Results: bench/results/bluegreen-*.json.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { localTemporal } from '../config/temporal';
import { startSandbox, writeSandboxConfig, type Sandbox } from '../sandbox/config';
import { startDevServer, type DevServer } from '../sandbox/devserver';
import { percentile, startLoad, type LoadIncident, type LoadSample, type LoadStats } from '../sandbox/load';
import { NGINX_BIN } from '../sandbox/world';
import { main as cli } from '../starters/cli';
import type { Io } from '../starters/output';
import {
  deployTimeline,
  environmentReaction,
  interrupted,
  intArg,
  round,
  sleep,
  startWorkerProcess,
  summary,
  table,
  unionMs,
  within,
  writeResults,
  type OverheadBreakdown,
  type Summary,
  type WorkerProcess,
} from './common';

const DEPLOYS = intArg('deploys', 20, 100);
const PASSES = passesArg();
const RATE = intArg('rate', 200, 2000);
const APP = 'shop';
const ENV = 'bench';
const DEPLOY_LIMIT_MS = 120_000;
const TOTAL_LIMIT_MS = 25 * 60_000;
const SETTLE_MS = 300;

type Side = 'cutover' | 'baseline';
type PassName = 'quiet' | 'hog';

function passesArg(): PassName[] {
  const i = process.argv.indexOf('--passes');
  const raw = i === -1 ? 'quiet,hog' : (process.argv[i + 1] ?? '');
  const names = raw.split(',').filter(Boolean);
  if (names.length === 0 || !names.every((n): n is PassName => n === 'quiet' || n === 'hog')) {
    throw new Error(`--passes must list quiet and/or hog, e.g. --passes quiet,hog (got ${JSON.stringify(raw)})`);
  }
  return names;
}

/** One core kept busy for the whole pass: Debian's stress-ng (scripts/setup.sh installs it). */
async function startHog(): Promise<{ pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn('stress-ng', ['--cpu', '1', '--cpu-method', 'matrixprod', '--timeout', '30m', '--quiet'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`stress-ng did not start (run scripts/setup.sh): ${e.message}`)));
    child.once('spawn', () => resolve());
  });
  await sleep(1000); // let it take its core before measuring
  return {
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => void child.kill('SIGKILL'))]);
    },
  };
}

interface DeployRun {
  side: Side;
  index: number;
  version: string;
  from: string;
  ok: boolean;
  /** Trigger to "new version serves all traffic" (verified through every router), ms. */
  wallMs: number;
  /** cutover only: trigger to the CLI (`deploy --wait`) returning, ms. */
  cliReturnMs?: number;
  /** First router switch to the end of verification, ms. */
  switchWindowMs: number;
  load: {
    sent: number;
    failed: number;
    staleRetries: number;
    staleRetriesNotFlaggedByNode: number;
    failures: string[];
    versions: Record<string, number>;
    /** Stale retries and failures, timed from the first router switch (ms). */
    incidents: (LoadIncident & { fromSwitchStartMs: number })[];
  };
  /** cutover only: how long each host's switchRouter activity ran, ms. */
  switchRouterMs?: number[];
  switchLatencyMs: { requests: number; p50: number; p99: number; max: number };
  /** cutover only. */
  orchestration?: {
    activityMs: number;
    overheadMs: number;
    inWorkflowOverheadMs: number;
    triggerToDeployStartMs: number;
    historyEvents: number;
    /**
     * Consecutive phases from the trigger to the CLI's return, ms: the CLI until the environment
     * has the signal (config, connect, signal-with-start), the environment's reaction (its workflow
     * task starting the child), the child's start, the deploy itself split into activities and the
     * overhead classes of bench/common.ts workflowOverhead, then the CLI noticing the end.
     */
    phasesMs: {
      cliToSignal: number;
      signalToReactionTask: number;
      reactionTaskToChildInitiated: number;
      childInitiatedToStarted: number;
      deployActivities: number;
      deployOverhead: OverheadBreakdown;
      deployClosedToCliReturn: number;
    };
    workflowTasks: number;
    workflowTaskMs: number[];
    activityRounds: number;
    localActivities: number;
    activities: { type: string; local?: boolean; queuedMs: number; ranMs: number }[];
  };
  /** baseline only: its phase marks relative to the trigger, ms. */
  marks?: Record<string, number>;
  output?: string[];
}

/** Each overhead phase summarised over the deploys (mean, p50, min, max). */
function overheadPhases(runs: DeployRun[]) {
  const phases = runs.map((r) => r.orchestration!.phasesMs);
  const top = ['cliToSignal', 'signalToReactionTask', 'reactionTaskToChildInitiated', 'childInitiatedToStarted', 'deployActivities', 'deployClosedToCliReturn'] as const;
  const inDeploy = ['workflowTaskRunning', 'workflowTaskDispatch', 'activityDispatch', 'signalExternal', 'timer', 'server'] as const;
  return {
    ...Object.fromEntries(top.map((k) => [k, summary(phases.map((p) => p[k]))])),
    deployOverhead: Object.fromEntries(inDeploy.map((k) => [k, summary(phases.map((p) => p.deployOverhead[k]))])),
  } as Record<(typeof top)[number], Summary> & { deployOverhead: Record<keyof OverheadBreakdown, Summary> };
}

/** The load requests sent in each deploy's switch window, for pooled percentiles. */
const windowSamples = new WeakMap<DeployRun, LoadSample[]>();

function inWindow(samples: LoadSample[], from: number, to: number): LoadSample[] {
  return samples.filter((s) => s.at >= from && s.at <= to);
}

function loadFigures(stats: LoadStats, switchStart: number): DeployRun['load'] {
  return {
    sent: stats.sent,
    failed: stats.failed,
    staleRetries: stats.staleRetries,
    staleRetriesNotFlaggedByNode: stats.staleRetriesNotFlaggedByNode,
    failures: stats.failures.slice(0, 5),
    versions: stats.versions,
    incidents: stats.incidents.slice(0, 40).map((i) => ({ ...i, fromSwitchStartMs: round(i.at - switchStart) })),
  };
}

function latencyFigures(samples: LoadSample[]) {
  const ms = samples.map((s) => s.ms);
  return { requests: ms.length, p50: round(percentile(ms, 50), 2), p99: round(percentile(ms, 99), 2), max: round(percentile(ms, 100), 2) };
}

async function run(): Promise<void> {
  const startedAt = Date.now();
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-'));
  const say = (s: string): void => console.log(`[bench] ${s}`);
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
      releases: { v1: undefined, v2: undefined, v3: undefined },
      initial: { color: 'blue', version: 'v1' },
    });
    const hosts = sandbox.hosts;
    worker = await startWorkerProcess(server.address, join(dir, 'worker.log'));
    client = new Client({ connection: await Connection.connect(await localTemporal(server.address)) });
    const config = writeSandboxConfig(join(dir, 'cutover.yml'), hosts, {
      app: APP,
      env: ENV,
      // Long: each deploy's idle slot is the previous live colour, which the deploy itself
      // stops first (as the baseline does); no teardown activity runs during the benchmark.
      teardownDelay: '1h',
      temporal: { address: server.address, uiUrl: server.uiUrl },
    });

    // The baseline's ssh setup: the same client keys, and a known_hosts from the host keys.
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, hosts.map((h) => `[${h.address}]:${h.spec.port} ${h.spec.hostKey}\n`).join(''));
    const hostsFile = join(dir, 'baseline-hosts');
    writeFileSync(hostsFile, hosts.map((h) => `${h.name} ${h.address} ${h.spec.port} ${h.spec.user} ${h.spec.privateKeyPath} ${h.root}\n`).join(''));
    const first = hosts[0]!;
    const baselineEnv: NodeJS.ProcessEnv = {
      ...process.env,
      HOSTS_FILE: hostsFile,
      KNOWN_HOSTS: knownHosts,
      BLUE_PORT: String(first.ports.blue),
      GREEN_PORT: String(first.ports.green),
      NGINX_PORT: String(first.ports.nginx),
      NGINX_BIN,
      UPSTREAM_NAME: first.upstreamName,
      HEALTH_ATTEMPTS: '20',
      HEALTH_INTERVAL: '0.25',
      VERIFY_REQUESTS: '5',
      VERIFY_TIMEOUT: '30',
    };

    const urls = hosts.map((h) => h.url);
    const served = (): string[] => hosts.map((h) => /color=(\w+) version=(\S+)/.exec(h.readUpstream())?.slice(1).join(':') ?? '-');
    let live = 'v1';
    let pipeline = 5000;

    const cutoverDeploy = async (version: string, output: string[]) => {
      const key = String(++pipeline);
      const io: Io = {
        stdout: (l) => void output.push(l),
        stderr: (l) => void output.push(l),
        env: { ...process.env, GITLAB_CI: 'true', CI_PIPELINE_ID: key, GITLAB_USER_LOGIN: 'bench' },
        now: () => new Date(),
        random: () => key,
        sleep: (ms) => sleep(ms),
      };
      const t0 = Date.now();
      const code = await within('cutover deploy', DEPLOY_LIMIT_MS, cli(['-c', config, 'deploy', APP, ENV, version, '--wait'], io));
      const tCli = Date.now();
      const deployId = `deploy/${APP}/${ENV}/gitlab-${key}-${version}`;
      const tl = await deployTimeline(client!, deployId);
      const env = await environmentReaction(client!, `env/${APP}/${ENV}`, 'deploy', deployId);
      return { t0, tCli, code, tl, env };
    };

    const baselineDeploy = (version: string) =>
      new Promise<{ t0: number; code: number; marks: Record<string, number>; stdout: string; stderr: string }>((resolve) => {
        const t0 = Date.now();
        execFile('bash', [join(__dirname, 'baseline.sh'), version], { env: baselineEnv, timeout: DEPLOY_LIMIT_MS }, (err, stdout, stderr) => {
          const marks: Record<string, number> = {};
          for (const m of stdout.matchAll(/^@ (\S+) (\d+)$/gm)) marks[m[1]!] = Number(m[2]);
          resolve({ t0, code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, marks, stdout, stderr });
        });
      });

    const deploy = async (side: Side, index: number): Promise<DeployRun> => {
      if (interrupted.value) throw new Error('interrupted');
      if (Date.now() - startedAt > TOTAL_LIMIT_MS) throw new Error(`benchmark time limit (${TOTAL_LIMIT_MS} ms) reached`);
      const version = live === 'v2' ? 'v3' : 'v2';
      const from = served().join(',');
      const load = startLoad(urls, RATE, DEPLOY_LIMIT_MS + 10_000);
      let stats: LoadStats | undefined;
      try {
        await sleep(SETTLE_MS);
        const output: string[] = [];
        let r: DeployRun;
        if (side === 'cutover') {
          const { t0, tCli, code, tl, env } = await cutoverDeploy(version, output);
          await sleep(SETTLE_MS);
          stats = await load.stop();
          const switches = tl.activities.filter((a) => a.type === 'switchRouter');
          const switchStart = Math.min(...switches.map((a) => a.started));
          const activityMs = unionMs(tl.activities.map((a) => [a.started, a.closed]));
          r = {
            side,
            index,
            version,
            from,
            ok: code === 0 && tl.status === 'completed',
            wallMs: round(tl.closed - t0),
            cliReturnMs: tCli - t0,
            switchWindowMs: round(tl.closed - switchStart),
            load: loadFigures(stats, switchStart),
            switchRouterMs: switches.map((a) => round(a.closed - a.started)),
            switchLatencyMs: latencyFigures(inWindow(stats.samples, switchStart, tl.closed)),
            orchestration: {
              activityMs: round(activityMs),
              overheadMs: round(tl.closed - t0 - activityMs),
              inWorkflowOverheadMs: round(tl.closed - tl.started - activityMs),
              triggerToDeployStartMs: round(tl.started - t0),
              historyEvents: tl.events,
              phasesMs: {
                cliToSignal: round(env.signaled - t0),
                signalToReactionTask: round(env.reactionTaskStarted - env.signaled),
                reactionTaskToChildInitiated: round(env.childInitiated - env.reactionTaskStarted),
                childInitiatedToStarted: round(tl.started - env.childInitiated),
                deployActivities: round(activityMs),
                deployOverhead: tl.overhead.breakdownMs,
                deployClosedToCliReturn: round(tCli - tl.closed),
              },
              workflowTasks: tl.overhead.workflowTasks,
              workflowTaskMs: tl.overhead.workflowTaskMs,
              activityRounds: tl.overhead.activityRounds,
              localActivities: tl.overhead.localActivities,
              activities: tl.activities.map((a) => ({ type: a.type, ...(a.local ? { local: true } : {}), queuedMs: round(a.started - a.scheduled), ranMs: round(a.closed - a.started) })),
            },
          };
          windowSamples.set(r, inWindow(stats.samples, switchStart, tl.closed));
        } else {
          const b = await within('baseline deploy', DEPLOY_LIMIT_MS + 5_000, baselineDeploy(version));
          await sleep(SETTLE_MS);
          stats = await load.stop();
          const end = b.marks.verified ?? NaN;
          const switchStart = b.marks['switch-start'] ?? NaN;
          r = {
            side,
            index,
            version,
            from,
            ok: b.code === 0 && Number.isFinite(end),
            wallMs: end - b.t0,
            switchWindowMs: end - switchStart,
            load: loadFigures(stats, switchStart),
            switchLatencyMs: latencyFigures(inWindow(stats.samples, switchStart, end)),
            marks: Object.fromEntries(Object.entries(b.marks).map(([k, v]) => [k, v - b.t0])),
          };
          windowSamples.set(r, inWindow(stats.samples, switchStart, end));
          if (!r.ok) output.push(b.stdout, b.stderr);
        }
        const now = served();
        if (!now.every((s) => s.endsWith(`:${version}`))) {
          r.ok = false;
          output.push(`hosts serve ${now.join(',')} after deploying ${version}`);
        }
        if (r.ok) live = version;
        else r.output = output.slice(-20);
        say(`${side} #${index} ${from} -> ${version}: ${r.ok ? 'ok' : 'FAILED'} in ${r.wallMs} ms, load ${r.load.sent} sent / ${r.load.failed} failed`);
        return r;
      } finally {
        if (!stats) await load.stop();
      }
    };

    say('warm-up: one unmeasured deploy per side');
    const warmup = [await deploy('cutover', 0), await deploy('baseline', 0)];
    if (!warmup.every((w) => w.ok)) throw new Error(`warm-up failed: ${JSON.stringify(warmup.map((w) => w.output))}`);

    const report = (runs: DeployRun[], side: Side) => {
      const rs = runs.filter((r) => r.side === side);
      const ok = rs.filter((r) => r.ok);
      // Latency pooled over the switch windows of every deploy of this side.
      const pooled = latencyFigures(ok.flatMap((r) => windowSamples.get(r) ?? []));
      return {
        deploys: rs.length,
        succeeded: ok.length,
        requestsSent: rs.reduce((a, r) => a + r.load.sent, 0),
        requestsFailed: rs.reduce((a, r) => a + r.load.failed, 0),
        staleRetries: rs.reduce((a, r) => a + r.load.staleRetries, 0),
        staleRetriesNotFlaggedByNode: rs.reduce((a, r) => a + r.load.staleRetriesNotFlaggedByNode, 0),
        deploysWithFailedRequests: rs.filter((r) => r.load.failed > 0).length,
        switchWindowMs: summary(ok.map((r) => r.switchWindowMs)),
        switchLatencyMs: {
          pooled,
          p50OfDeploys: summary(ok.map((r) => r.switchLatencyMs.p50)),
          p99OfDeploys: summary(ok.map((r) => r.switchLatencyMs.p99)),
        },
        wallMs: summary(ok.map((r) => r.wallMs)),
        ...(side === 'cutover'
          ? {
              cliReturnMs: summary(ok.map((r) => r.cliReturnMs ?? NaN)),
              activityMs: summary(ok.map((r) => r.orchestration!.activityMs)),
              orchestrationOverheadMs: summary(ok.map((r) => r.orchestration!.overheadMs)),
              inWorkflowOverheadMs: summary(ok.map((r) => r.orchestration!.inWorkflowOverheadMs)),
              triggerToDeployStartMs: summary(ok.map((r) => r.orchestration!.triggerToDeployStartMs)),
              historyEvents: summary(ok.map((r) => r.orchestration!.historyEvents)),
              workflowTasks: summary(ok.map((r) => r.orchestration!.workflowTasks)),
              activityRounds: summary(ok.map((r) => r.orchestration!.activityRounds)),
              localActivities: summary(ok.map((r) => r.orchestration!.localActivities)),
              overheadPhasesMs: overheadPhases(ok),
              switchRouterMs: summary(ok.flatMap((r) => r.switchRouterMs ?? [])),
            }
          : {}),
      };
    };

    const runPass = async (name: PassName) => {
      say(`pass "${name}": ${DEPLOYS} deploys per side${name === 'hog' ? ', one core kept busy by stress-ng --cpu 1' : ''}`);
      const hog = name === 'hog' ? await startHog() : undefined;
      const loadAverageAtStart = loadavg().map((l) => round(l, 2));
      const loadSamples: number[] = [];
      const loadTimer = setInterval(() => loadSamples.push(round(loadavg()[0]!, 2)), 5000);
      const runs: DeployRun[] = [];
      try {
        for (let i = 1; i <= DEPLOYS; i++) {
          runs.push(await deploy('cutover', i));
          runs.push(await deploy('baseline', i));
        }
      } finally {
        clearInterval(loadTimer);
        await hog?.stop();
      }
      const cut = report(runs, 'cutover');
      const base = report(runs, 'baseline');
      return {
        name,
        hog: name === 'hog' ? 'stress-ng --cpu 1 --cpu-method matrixprod (one core busy for the whole pass)' : null,
        loadAverage: { atStart: loadAverageAtStart, atEnd: loadavg().map((l) => round(l, 2)), oneMinuteSamples: summary(loadSamples) },
        cutover: cut,
        baseline: base,
        ratio: {
          meanWallCutoverOverBaseline: round(cut.wallMs.mean / base.wallMs.mean, 3),
          meanCliReturnCutoverOverBaseline: round((cut.cliReturnMs?.mean ?? NaN) / base.wallMs.mean, 3),
          pooledSwitchP99CutoverOverBaseline: round(cut.switchLatencyMs.pooled.p99 / base.switchLatencyMs.pooled.p99, 2),
        },
        runs,
      };
    };
    const passes = [];
    for (const name of PASSES) passes.push(await runPass(name));

    const result = {
      benchmark: 'bluegreen',
      at: new Date(startedAt).toISOString(),
      machine: { cores: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) },
      settings: { deploys: DEPLOYS, passes: PASSES, ratePerSecond: RATE, routers: urls.length, hosts: hosts.length, warmupDeploysPerSide: 1, settleMs: SETTLE_MS },
      passes: passes.map(({ runs: _runs, ...p }) => p),
      notes: [
        'Failed requests: every load request without a 200 answer, except a request whose keep-alive connection (one that had already carried an answer) was closed before any byte of its answer: that one is re-sent once on a fresh connection, as browsers, curl and HTTP libraries do for idempotent requests (RFC 9112 9.3.1), counted in staleRetries; if the re-sent request fails, it counts as failed. A request on a fresh connection is never re-sent. staleRetriesNotFlaggedByNode: stale connections that Node\'s req.reusedSocket did not flag (a request that waited in the agent queue for a busy socket).',
        `Load: ${RATE} requests/s in total, round-robin over both nginx routers, started ${SETTLE_MS} ms before the trigger and stopped ${SETTLE_MS} ms after the deploy ended; "requestsSent/Failed" count every request of those windows.`,
        'Deploys alternate v2/v3 and cutover/baseline, so every deploy moves traffic to the other colour; one unmeasured warm-up deploy per side first.',
        'Teardown: cutover runs with teardownDelay 1h. The idle slot of each deploy is the previous live colour; the deploy stops it as its first step (the environment workflow drops the teardown timer when the next deploy starts), exactly as the baseline stops the idle slot first. So no teardown activity overlaps any deploy and both sides stop a running app every time.',
        'wallMs: trigger (just before `cutover deploy --wait` is called in-process, or before bash starts baseline.sh) to the moment the new version was verified through every router: the deploy workflow\'s WorkflowExecutionCompleted event (after its verifyRouter activities) for cutover, the "verified" mark of baseline.sh.',
        'cliReturnMs: trigger to `cutover deploy --wait` returning; includes the CLI\'s 1 s polling until the deploy child workflow exists (starters/follow.ts) and a last progress query.',
        'Switch window: cutover from the ActivityTaskStarted of the first switchRouter to WorkflowExecutionCompleted; baseline from its "switch-start" mark to "verified". p50/p99 are over requests SENT in that window, per deploy; the summaries are across deploys.',
        'orchestrationOverheadMs = wallMs minus the union of all ActivityTaskStarted..Completed intervals of the deploy workflow (parallel activities counted once): signalWithStart, the environment workflow task, starting the child, workflow tasks, and activity queueing. inWorkflowOverheadMs is the same inside the deploy workflow only (its start to its completion).',
        'The worker is its own process (node --import tsx workers/main.ts, defaults), as in production; the CLI runs in the benchmark process (no Node start-up cost counted), the baseline is a bash process using OpenSSH with StrictHostKeyChecking=yes.',
        'The baseline does the same steps as the blue-green workflow and with the same parallelism (read + prepare on all hosts in parallel, switch host after host, then verify); its health poll and verification run with the same interval/count (250 ms, 5 answers).',
      ],
      runs: passes.flatMap((p) => p.runs.map((r) => ({ pass: p.name, ...r }))),
      warmup,
    };
    const file = writeResults('bluegreen', result);
    const fmt = (s: { mean: number; p50: number; max: number }): string => `${s.mean} / ${s.p50} / ${s.max}`;
    for (const p of passes) {
      const { cutover: cut, baseline: base } = p;
      console.log(`\npass ${p.name}: load average ${p.loadAverage.atStart.join(' ')} -> ${p.loadAverage.atEnd.join(' ')}`);
      console.log(
      table([
        ['', 'cutover', 'baseline'],
        ['deploys ok', `${cut.succeeded}/${cut.deploys}`, `${base.succeeded}/${base.deploys}`],
        ['requests sent / failed', `${cut.requestsSent} / ${cut.requestsFailed}`, `${base.requestsSent} / ${base.requestsFailed}`],
        ['stale keep-alive retries (not flagged by Node)', `${cut.staleRetries} (${cut.staleRetriesNotFlaggedByNode})`, `${base.staleRetries} (${base.staleRetriesNotFlaggedByNode})`],
        ['switch-window latency ms p50 / p99 (pooled)', `${cut.switchLatencyMs.pooled.p50} / ${cut.switchLatencyMs.pooled.p99}`, `${base.switchLatencyMs.pooled.p50} / ${base.switchLatencyMs.pooled.p99}`],
        ['switch p50 latency ms (mean/p50/max of deploys)', fmt(cut.switchLatencyMs.p50OfDeploys), fmt(base.switchLatencyMs.p50OfDeploys)],
        ['switch p99 latency ms (mean/p50/max of deploys)', fmt(cut.switchLatencyMs.p99OfDeploys), fmt(base.switchLatencyMs.p99OfDeploys)],
        ['wall ms trigger->serving (mean/p50/max)', fmt(cut.wallMs), fmt(base.wallMs)],
        ['CLI return ms (mean/p50/max)', cut.cliReturnMs ? fmt(cut.cliReturnMs) : '-', '-'],
        ['orchestration overhead ms (mean/p50/max)', cut.orchestrationOverheadMs ? fmt(cut.orchestrationOverheadMs) : '-', '-'],
        ...overheadRows(cut.overheadPhasesMs),
        ['switchRouter ms per host (mean/p50/max)', cut.switchRouterMs ? fmt(cut.switchRouterMs) : '-', '-'],
        ['ratio cutover/baseline mean wall', String(p.ratio.meanWallCutoverOverBaseline), ''],
        ['ratio cutover/baseline pooled switch p99', String(p.ratio.pooledSwitchP99CutoverOverBaseline), ''],
      ]),
      );
    }
    console.log(`\nresults: ${file}`);
    failed = passes.some((p) => p.runs.some((r) => !r.ok));
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

function overheadRows(phases: ReturnType<typeof overheadPhases> | undefined): string[][] {
  if (!phases) return [];
  const { deployOverhead, ...top } = phases;
  const fmt = (s: { mean: number; p50: number; max: number }): string => `${s.mean} / ${s.p50} / ${s.max}`;
  return [
    ...Object.entries(top).map(([k, v]) => [`  ${k} ms`, fmt(v), '']),
    ...Object.entries(deployOverhead).map(([k, v]) => [`  deploy overhead: ${k} ms`, fmt(v), '']),
  ];
}

void run();
