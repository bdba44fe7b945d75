// `npm run bench:canary [-- --bad N --rate R]`: canary deploys on the local world (the Temporal
// dev server, two sandbox hosts with sshd + nginx + the sample app, a real Prometheus scraping
// every slot each second, one cutover worker in its own process), under a steady load through
// both routers. One good canary (1% -> 5% -> 25% -> 100%) measures the traffic shares each
// weight really gets; N bad canaries (20% of requests answered 500) measure how fast the
// analysis puts every host back on 100% stable. Results: bench/results/canary-*.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { localTemporal } from '../config/temporal';
import type { SwitchInput } from '../activities/nginx';
import { parseUpstream } from '../activities/nginx/commands';
import type { Measurement } from '../contract/analysis';
import { startSandbox, writeSandboxConfig, type Sandbox } from '../sandbox/config';
import { startDevServer, type DevServer } from '../sandbox/devserver';
import { startLoad, type LoadSample, type LoadStats } from '../sandbox/load';
import { startPrometheus, type SandboxPrometheus } from '../sandbox/prometheus';
import type { Behaviour, SandboxHost } from '../sandbox/world';
import { main as cli } from '../starters/cli';
import { activityRuns, type ActivityRun } from '../test/support/histories';
import type { Io } from '../starters/output';
import { interrupted, intArg, round, sleep, startWorkerProcess, summary, table, within, writeResults, type WorkerProcess } from './common';

const BAD = intArg('bad', 3, 20);
const RATE = intArg('rate', 200, 2000);
const INTERVAL_MS = 5000;
const FAILURE_LIMIT = 1;
const GOOD_PAUSE = '10s';
const BAD_PAUSE = '60s';
const WEIGHTS = [1, 5, 25];
/**
 * A second series of bad canaries starts at 5%: at 1% of 200 req/s each canary process gets
 * ~1 req/s, so its first 500 (its 5th request) comes ~4.5 s after the shift, just before the
 * first measurement at 5 s. From 5% the first 500 comes ~1 s after the shift, ~4 s before it.
 */
const PHASE_CHECK_WEIGHT = 5;
const APP = 'shop';
const ENV = 'bench';
const DEPLOY_LIMIT_MS = 180_000;
const TOTAL_LIMIT_MS = 15 * 60_000;
const SETTLE_MS = 300;
/** After the last host's switchRouter returned: `nginx -s reload` returns before the new workers answer. */
const RELOAD_SETTLE_MS = 500;
const POLL_MS = 10;

const ERROR_RATE =
  '(sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{version="{{version}}"}[10s]))';
const P99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="{{version}}"}[10s])))';

// ---------- a deploy's history: its activities with their argument and result ----------

/** Each canary weight's time on every router: after the last host switched to it, until the next switch began. */
function stepWindows(runs: ActivityRun[]): { weight: number; from: number; to: number }[] {
  const groups: { weight: number; started: number; closed: number }[] = [];
  for (const r of runs.filter((x) => x.type === 'switchRouter')) {
    const weight = (r.input as SwitchInput).canary?.weight ?? 100;
    const last = groups.at(-1);
    if (last && last.weight === weight) last.closed = Math.max(last.closed, r.closed);
    else groups.push({ weight, started: r.started, closed: r.closed });
  }
  return groups.slice(0, -1).map((g, i) => ({ weight: g.weight, from: g.closed + RELOAD_SETTLE_MS, to: groups[i + 1]!.started }));
}

// ---------- watching the routers ----------

/** Polls every host's upstream file: when did a canary first appear, and when were all hosts back on 100% stable? */
function watchUpstreams(hosts: SandboxHost[]): { stop(): { canarySeenAt: number | null; stableAgainAt: number | null } } {
  let canarySeenAt: number | null = null;
  let stableAgainAt: number | null = null;
  const ports = { blue: hosts[0]!.ports.blue, green: hosts[0]!.ports.green };
  const timer = setInterval(() => {
    const parsed = hosts.map((h) => parseUpstream(h.readUpstream(), ports));
    const now = Date.now();
    if (canarySeenAt === null) {
      if (parsed.some((p) => p.canary !== null)) canarySeenAt = now;
    } else if (stableAgainAt === null && parsed.every((p) => p.canary === null)) {
      stableAgainAt = now;
    }
  }, POLL_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return { canarySeenAt, stableAgainAt };
    },
  };
}

const answeredAt = (s: LoadSample): number => s.at + s.ms;
/** A new version per bad canary, so no Prometheus series of an earlier one is measured. */
const badVersion = (i: number, firstWeight: number): string => (firstWeight === WEIGHTS[0] ? `bad${i}` : `bad${i}-from${firstWeight}`);

// ---------- the runs ----------

interface GoodRun {
  version: string;
  ok: boolean;
  exitCode: number;
  wallMs: number;
  requestsSent: number;
  requestsFailed: number;
  staleRetries: number;
  stepShares: { configuredPercent: number; measuredPercent: number; canaryAnswers: number; answers: number; windowMs: number }[];
  measurements: number;
}

interface BadRun {
  version: string;
  ok: boolean;
  exitCode: number;
  /** End of the first failing measurePrometheus activity (its ActivityTaskCompleted) → every upstream file 100% stable. */
  fromFailingMeasurementMs: number;
  /** The first 500 answered by the canary → every upstream file 100% stable. */
  fromFirstBadRequestMs: number;
  /** The first 500 → the last answer the canary gave (any status): when the routers stopped sending to it. */
  firstBadToLastCanaryAnswerMs: number;
  /** The canary's weight on every router (upstream file) → 100% stable again. */
  canaryLifetimeMs: number;
  breachWeight: number | null;
  breachMetric: string | null;
  breachValue: number | null;
  /** Earlier measurements of the breaching metric in this deploy (0: the first one caught it). */
  measurementsBeforeBreach: number;
  requestsSent: number;
  requestsToBadCanary: number;
  requestsFailed: number;
  failuresNotFromCanary: number;
  message: string;
  /** The CLI's last lines when the run did not end as expected. */
  output: string[];
}

interface DeployOutcome {
  id: string;
  code: number;
  wallMs: number;
  stats: LoadStats;
  routers: { canarySeenAt: number | null; stableAgainAt: number | null };
  output: string[];
  runs: ActivityRun[];
}

/** The figures of one bad canary, from the load's samples, the upstream watch and the deploy's history. */
function badRun(b: DeployOutcome, version: string, hosts: SandboxHost[]): BadRun {
  const samples = b.stats.samples;
  const badAnswers = samples.filter((s) => s.version === version);
  const first500 = Math.min(...badAnswers.filter((s) => s.status === 500).map(answeredAt));
  const lastCanaryAnswer = Math.max(...badAnswers.map(answeredAt));
  const measured = b.runs.filter((r) => r.type === 'measurePrometheus');
  const failing = measured.find((r) => (r.result as Measurement | undefined)?.verdict === 'fail');
  const breach = failing?.result as Measurement | undefined;
  const stableAt = b.routers.stableAgainAt ?? NaN;
  const lastShift = failing ? b.runs.filter((r) => r.type === 'switchRouter' && r.closed <= failing.started).at(-1) : undefined;
  const allStable = hosts.every((h) => parseUpstream(h.readUpstream(), { blue: h.ports.blue, green: h.ports.green }).canary === null);
  const ok = b.code === 1 && failing !== undefined && Number.isFinite(stableAt) && allStable;
  return {
    version,
    ok,
    exitCode: b.code,
    fromFailingMeasurementMs: round(stableAt - (failing?.closed ?? NaN)),
    fromFirstBadRequestMs: round(stableAt - first500),
    firstBadToLastCanaryAnswerMs: round(lastCanaryAnswer - first500),
    canaryLifetimeMs: round(stableAt - (b.routers.canarySeenAt ?? NaN)),
    breachWeight: (lastShift?.input as SwitchInput | undefined)?.canary?.weight ?? null,
    breachMetric: breach?.metric ?? null,
    breachValue: breach?.value ?? null,
    measurementsBeforeBreach: failing ? measured.filter((m) => m.closed < failing.closed && (m.result as Measurement | undefined)?.metric === breach?.metric).length : measured.length,
    requestsSent: b.stats.sent,
    requestsToBadCanary: badAnswers.length,
    requestsFailed: b.stats.failed,
    failuresNotFromCanary: samples.filter((s) => !s.ok && !(s.status === 500 && s.version === version)).length,
    message: b.output.find((l) => /failed - rolled back/.test(l)) ?? b.output.slice(-3).join(' | '),
    output: ok ? [] : b.output.slice(-15),
  };
}

/** A series of bad canaries: each figure with its spread (mean, p50, min, max) over the repeats that rolled back. */
function badFigures(runs: BadRun[], firstWeight: number) {
  const ok = runs.filter((r) => r.ok);
  const fig = (f: (r: BadRun) => number) => summary(ok.map(f));
  return {
    firstWeight,
    repeats: runs.length,
    rolledBack: ok.length,
    breachToStableMs: {
      fromFailingMeasurement: fig((r) => r.fromFailingMeasurementMs),
      fromFirstBadRequest: fig((r) => r.fromFirstBadRequestMs),
    },
    firstBadToLastCanaryAnswerMs: fig((r) => r.firstBadToLastCanaryAnswerMs),
    canaryLifetimeMs: fig((r) => r.canaryLifetimeMs),
    requestsToBadCanary: fig((r) => r.requestsToBadCanary),
    requestsFailed: fig((r) => r.requestsFailed),
    requestsFailedTotal: runs.reduce((a, r) => a + r.requestsFailed, 0),
    failuresNotFromCanary: runs.reduce((a, r) => a + r.failuresNotFromCanary, 0),
    goal: {
      text: `every host on 100% stable within 2 analysis intervals (${2 * INTERVAL_MS} ms) of the first 500`,
      met: ok.length === runs.length && ok.every((r) => r.fromFirstBadRequestMs <= 2 * INTERVAL_MS),
    },
    runs,
  };
}

async function run(): Promise<void> {
  const startedAt = Date.now();
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-canary-'));
  const say = (s: string): void => console.log(`[bench] ${s}`);
  let server: DevServer | undefined;
  let sandbox: Sandbox | undefined;
  let prometheus: SandboxPrometheus | undefined;
  let worker: WorkerProcess | undefined;
  let client: Client | undefined;
  let failed = false;
  try {
    const releases: Record<string, Behaviour | undefined> = { v1: undefined, v2: undefined };
    for (let i = 1; i <= BAD; i++) for (const first of [WEIGHTS[0]!, PHASE_CHECK_WEIGHT]) releases[badVersion(i, first)] = { errorRate: 0.2 };
    say(`world in ${dir}: dev server, 2 hosts (sshd + nginx + app), Prometheus (1 s scrape), worker process`);
    server = await startDevServer({ dir });
    sandbox = await startSandbox({ base: join(dir, 'hosts'), app: APP, env: ENV, releases, initial: { color: 'blue', version: 'v1' } });
    const hosts = sandbox.hosts;
    prometheus = await startPrometheus({ dir: join(dir, 'prometheus'), targets: hosts.flatMap((h) => [`${h.address}:${h.ports.blue}`, `${h.address}:${h.ports.green}`]), scrapeIntervalMs: 1000 });
    worker = await startWorkerProcess(server.address, join(dir, 'worker.log'));
    client = new Client({ connection: await Connection.connect(await localTemporal(server.address)) });
    await prometheus.waitForData('count(up{job="app"}) >= 4', 30_000);
    const metrics = [
      { name: 'error-rate', prometheus: { url: prometheus.url, query: ERROR_RATE }, failIf: '> 0.05' },
      { name: 'p99-latency', prometheus: { url: prometheus.url, query: P99 }, failIf: '> 0.2' },
    ];
    const config = (name: string, pause: string, weights: number[] = WEIGHTS): string =>
      writeSandboxConfig(join(dir, `${name}.yml`), hosts, {
        app: APP,
        env: ENV,
        teardownDelay: '1h',
        temporal: { address: server!.address, uiUrl: server!.uiUrl },
        strategy: {
          canary: {
            steps: [...weights.map((weight) => ({ weight, pause })), { weight: 100 }],
            analysis: { interval: `${INTERVAL_MS}ms`, failureLimit: FAILURE_LIMIT, inconclusiveLimit: 3, metrics },
          },
        },
      });
    const goodConfig = config('good', GOOD_PAUSE);
    const urls = hosts.map((h) => h.url);
    let pipeline = 7000;

    /** `cutover deploy --wait` in-process, as CI calls it, under the load; the deploy's id and what the load saw. */
    const deploy = async (file: string, version: string): Promise<DeployOutcome> => {
      if (interrupted.value) throw new Error('interrupted');
      if (Date.now() - startedAt > TOTAL_LIMIT_MS) throw new Error(`benchmark time limit (${TOTAL_LIMIT_MS} ms) reached`);
      const key = String(++pipeline);
      const output: string[] = [];
      const io: Io = {
        stdout: (l) => void output.push(l),
        stderr: (l) => void output.push(l),
        env: { ...process.env, GITLAB_CI: 'true', CI_PIPELINE_ID: key, GITLAB_USER_LOGIN: 'bench' },
        now: () => new Date(),
        random: () => key,
        sleep: (ms) => sleep(ms),
      };
      const load = startLoad(urls, RATE, DEPLOY_LIMIT_MS + 10_000);
      const watch = watchUpstreams(hosts);
      let stats: LoadStats | undefined;
      try {
        await sleep(SETTLE_MS);
        const t0 = Date.now();
        const code = await within(`cutover deploy ${version}`, DEPLOY_LIMIT_MS, cli(['-c', file, 'deploy', APP, ENV, version, '--wait'], io));
        const wallMs = Date.now() - t0;
        await sleep(SETTLE_MS);
        stats = await load.stop();
        const id = `deploy/${APP}/${ENV}/gitlab-${key}-${version}`;
        return { id, code, wallMs, stats, routers: watch.stop(), output, runs: await activityRuns(client!, id) };
      } finally {
        watch.stop();
        if (!stats) await load.stop();
      }
    };

    say(`good canary v2: ${WEIGHTS.map((x) => `${x}%`).join(' -> ')} -> 100%, ${GOOD_PAUSE} each, ${RATE} req/s`);
    const g = await deploy(goodConfig, 'v2');
    const good: GoodRun = {
      version: 'v2',
      ok: g.code === 0 && g.stats.failed === 0,
      exitCode: g.code,
      wallMs: g.wallMs,
      requestsSent: g.stats.sent,
      requestsFailed: g.stats.failed,
      staleRetries: g.stats.staleRetries,
      stepShares: stepWindows(g.runs).map((win) => {
        const inside = g.stats.samples.filter((s) => s.at >= win.from && s.at <= win.to && s.version !== null);
        const canary = inside.filter((s) => s.version === 'v2').length;
        return { configuredPercent: win.weight, measuredPercent: round((100 * canary) / Math.max(1, inside.length), 2), canaryAnswers: canary, answers: inside.length, windowMs: round(win.to - win.from) };
      }),
      measurements: g.runs.filter((r) => r.type === 'measurePrometheus').length,
    };
    if (!good.ok) say(`good canary FAILED (exit ${g.code}):\n${g.output.slice(-15).join('\n')}`);
    say(`good canary: exit ${g.code}, ${good.requestsSent} sent / ${good.requestsFailed} failed; shares ${good.stepShares.map((s) => `${s.configuredPercent}% -> ${s.measuredPercent}%`).join(', ')}`);

    const series = async (first: number): Promise<BadRun[]> => {
      const runs: BadRun[] = [];
      const file = config(`bad-from-${first}`, BAD_PAUSE, WEIGHTS.filter((x) => x >= first));
      for (let i = 1; i <= BAD; i++) {
        const version = badVersion(i, first);
        const r = badRun(await deploy(file, version), version, hosts);
        if (!r.ok) say(`bad canary ${version} did not end as expected (exit ${r.exitCode}):\n${r.output.join('\n')}`);
        say(
          `bad canary ${version} (first step ${first}%): exit ${r.exitCode}, stable ${r.fromFailingMeasurementMs} ms after the failing measurement, ` +
            `${r.fromFirstBadRequestMs} ms after the first 500; ${r.requestsToBadCanary} requests to it, ${r.requestsFailed} failed`,
        );
        runs.push(r);
      }
      return runs;
    };
    const bad = await series(WEIGHTS[0]!);
    const badFrom5 = await series(PHASE_CHECK_WEIGHT);

    const badFigs = badFigures(bad, WEIGHTS[0]!);
    const from5Figs = badFigures(badFrom5, PHASE_CHECK_WEIGHT);
    const result = {
      benchmark: 'canary',
      at: new Date(startedAt).toISOString(),
      machine: { cores: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) },
      settings: {
        ratePerSecond: RATE,
        routers: urls.length,
        hosts: hosts.length,
        weights: [...WEIGHTS, 100],
        goodPause: GOOD_PAUSE,
        badPause: BAD_PAUSE,
        badRepeats: BAD,
        badBehaviour: { errorRate: 0.2 },
        failureLimit: FAILURE_LIMIT,
        prometheusScrapeMs: 1000,
        queryWindow: '10s',
        upstreamPollMs: POLL_MS,
      },
      analysisIntervalMs: INTERVAL_MS,
      good,
      bad: badFigs,
      badFrom5: from5Figs,
      notes: [
        `Load: ${RATE} requests/s in total, round-robin over both nginx routers, from ${SETTLE_MS} ms before \`cutover deploy --wait\` (in-process, as CI calls it) to ${SETTLE_MS} ms after it returned.`,
        `Good canary: weights ${WEIGHTS.join(', ')} then 100, ${GOOD_PAUSE} each. stepShares: answers by X-App-Version among the requests SENT between the end of the last host's switchRouter to that weight (+${RELOAD_SETTLE_MS} ms for the reload) and the start of the next switchRouter, read from the deploy's history.`,
        `Bad canaries: each a new version answering exactly 20% of app requests with 500 (its 5th, 10th, ... request), steps as the good one with ${BAD_PAUSE} pauses; analysis every ${INTERVAL_MS} ms, failureLimit ${FAILURE_LIMIT}, over a 10 s rate() window, Prometheus scraping each slot every 1 s.`,
        `badFrom5: the same with the steps from ${PHASE_CHECK_WEIGHT}%: there the first 500 comes ~1 s after the shift instead of ~4.5 s (just before the first measurement at ${INTERVAL_MS} ms), so fromFirstBadRequest is seen at another phase of the measurement interval.`,
        `"Stable": every host's upstream file (polled every ${POLL_MS} ms) routes 100% to the stable colour again (no canary server line). The restore writes it and runs nginx -s reload in the same command.`,
        'fromFailingMeasurement: from the ActivityTaskCompleted of the first measurePrometheus whose verdict was fail (deploy history) to stable. fromFirstBadRequest: from the moment the first 500 from the canary was answered to stable.',
        'firstBadToLastCanaryAnswerMs: from the first 500 to the last answer (any status) the canary gave through the routers; at 1% the canary gets one request in 100 per router, so this judges by answers with a granularity of ~1 s.',
        'requestsToBadCanary: load requests answered by the bad version (200 or 500); requestsFailed: load requests not answered 200 (all are 500s from the canary unless failuresNotFromCanary > 0).',
      ],
    };
    const file = writeResults('canary', result);
    const s = (x: { mean: number; p50: number; min: number; max: number }): string => `${x.mean} / ${x.p50} / ${x.min} / ${x.max}`;
    console.log('');
    console.log(
      table([
        ['figure', 'value'],
        ['good: requests sent / failed', `${good.requestsSent} / ${good.requestsFailed}`],
        ...good.stepShares.map((x) => [`good: share at ${x.configuredPercent}%`, `${x.measuredPercent}% (${x.canaryAnswers}/${x.answers})`]),
        ...([
          ['bad', badFigs],
          ['badFrom5', from5Figs],
        ] as const).flatMap(([name, f]) => [
          [`${name}: rolled back`, `${f.rolledBack}/${f.repeats}`],
          [`${name}: failing measurement -> stable ms (mean/p50/min/max)`, s(f.breachToStableMs.fromFailingMeasurement)],
          [`${name}: first 500 -> stable ms (mean/p50/min/max)`, s(f.breachToStableMs.fromFirstBadRequest)],
          [`${name}: requests to the bad canary (mean/p50/min/max)`, s(f.requestsToBadCanary)],
          [`${name}: requests failed (mean/p50/min/max)`, s(f.requestsFailed)],
          [`${name}: stable within 2 intervals of the first 500`, f.goal.met ? 'met' : 'NOT met'],
        ]),
        ['load average start / end', `${loadAtStart.join(' ')} / ${result.machine.loadAverageAtEnd.join(' ')}`],
      ]),
    );
    console.log(`\nresults: ${file}`);
    failed = !good.ok || badFigs.rolledBack !== BAD || from5Figs.rolledBack !== BAD;
  } catch (err) {
    failed = true;
    console.error(err);
    say(`kept ${dir} for inspection`);
  } finally {
    await client?.connection.close().catch(() => undefined);
    await worker?.stop().catch(() => undefined);
    await prometheus?.stop().catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
  if (!failed && !process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

void run();
