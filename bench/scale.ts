// `npm run bench:scale [-- --envs N --workers W --kill]`: the orchestration itself at scale. N
// environments (default 1000) each get one blue-green deploy, all requested at once, against W
// cutover workers (default 1; each its own process, workers/main.ts with its defaults or the
// CUTOVER_* tuning variables of this process's environment) and the dev server, over the
// same two sandbox sshd hosts. The slot commands are cheap but everything else is real: every
// activity runs its command over the worker's SSH connection to the host (host key checked,
// one shared connection per host, at most 8 commands at once on it); the switch
// really writes a per-environment upstream file on the host (temp file + rename); verify
// really curls, from the host, a router URL whose answer comes from that file.
// With --kill (two or more workers), the first worker is SIGKILLed once a third of the deploys
// have closed; the others must finish every deploy, each exactly once.
// Results: bench/results/scale-*.json.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { localTemporal } from '../config/temporal';
import { startSandbox, type Sandbox } from '../sandbox/config';
import { startDevServer, type DevServer } from '../sandbox/devserver';
import { freePort } from '../sandbox/world';
import { sendDeploy } from '../starters/environment-client';
import { deployRequestSchema, type DeployRequest, type Plan } from '../contract';
import { deployTimeline, interrupted, intArg, REPO, RESULTS_DIR, round, sleep, startWorkerProcess, summary, table, within, workflowOverhead, writeResults, type DeployTimeline, type WorkerProcess } from './common';

const ENVS = intArg('envs', 1000, 2000);
const WORKERS = intArg('workers', 1, 4);
const KILL = process.argv.includes('--kill');
const APP = 'scale';
const VERSION = 'v1';
const TOTAL_LIMIT_MS = intArg('limit-min', 10, 120) * 60_000;

/**
 * The "router" verify talks to: GET /<host>/<env> answers 200 with X-App-Version taken from
 * the marker line of the upstream file the deploy wrote on that host, 404 while there is none.
 * It stands in for an nginx that reloaded that file, without one nginx server per environment.
 */
function startRouterStandIn(base: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const m = /^\/(web\d+)\/([A-Za-z0-9._-]+)$/.exec(req.url ?? '');
    let version: string | undefined;
    if (m) {
      try {
        version = /^# managed by cutover: color=\w+ version=(\S+)$/m.exec(readFileSync(join(base, m[1]!, 'scale', m[2]!, 'upstream.conf'), 'utf8'))?.[1];
      } catch {
        /* not written yet */
      }
    }
    if (!version) {
      res.writeHead(404).end('no upstream\n');
      return;
    }
    res.writeHead(200, { 'X-App-Version': version, 'Content-Type': 'text/plain' }).end(`${version}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function scalePlan(sandbox: Sandbox, base: string, env: string, routerPort: number): Plan {
  const first = sandbox.hosts[0]!;
  return {
    app: APP,
    env,
    platform: {
      kind: 'ssh',
      hosts: sandbox.hosts.map((h) => h.spec),
      slots: {
        address: '{{address}}',
        blue: { port: first.ports.blue },
        green: { port: first.ports.green },
        // One line per run, so the benchmark can count how often each start really ran.
        start: `echo started {{color}} {{version}} >> ${base}/{{host}}/scale/${env}/starts.log`,
        stop: 'true',
        installed: 'true',
        health: 'true',
      },
    },
    strategy: { kind: 'blueGreen' },
    router: {
      kind: 'nginx',
      upstreamFile: `${base}/{{host}}/scale/${env}/upstream.conf`,
      upstreamName: `scale_${env}`,
      test: 'true',
      reload: 'true',
      url: `http://127.0.0.1:${routerPort}/{{host}}/${env}`,
    },
    health: { path: '/health', expectStatus: 200, timeoutMs: 2000, intervalMs: 250, attempts: 20 },
    verify: { requests: 5, versionHeader: 'X-App-Version' },
    teardownDelayMs: 0,
  };
}

/**
 * How many deploy workflows have closed, from visibility. One cheap query every 2 s instead of
 * 200 long polls, so nothing is left in flight when the client closes.
 */
async function closedDeploys(client: Client): Promise<number> {
  const r = await client.workflow.count(`WorkflowType='blueGreenDeploy' AND ExecutionStatus!='Running'`);
  return r.count;
}

/** Runs of each deploy workflow id (a retried or duplicated deploy would show up as a second run). */
async function deployRuns(client: Client): Promise<Map<string, { runs: number; completed: number }>> {
  const out = new Map<string, { runs: number; completed: number }>();
  for await (const w of client.workflow.list({ query: `WorkflowType='blueGreenDeploy'` })) {
    const x = out.get(w.workflowId) ?? { runs: 0, completed: 0 };
    x.runs++;
    if (w.status.name === 'COMPLETED') x.completed++;
    out.set(w.workflowId, x);
  }
  return out;
}

interface ScenarioSummary {
  file: string;
  at: string;
  settings: { environments: number; workers: number; killFirstWorker: boolean };
  [figure: string]: unknown;
}

/**
 * The key figures of the latest run of each other scenario (e.g. one worker at 1,000
 * environments, two workers with one SIGKILLed), carried into scale-latest.json so it answers
 * for all of them; each names its own results file.
 */
function otherScenarios(now: { environments: number; workers: number; killFirstWorker: boolean }): ScenarioSummary[] {
  const key = (x: { workers: number; killFirstWorker: boolean }): string => `${x.workers}/${x.killFirstWorker}`;
  const latest = join(RESULTS_DIR, 'scale-latest.json');
  if (!existsSync(latest)) return [];
  const prev = JSON.parse(readFileSync(latest, 'utf8')) as Record<string, unknown> & { at: string; settings: ScenarioSummary['settings']; otherScenarios?: ScenarioSummary[] };
  const file =
    readdirSync(RESULTS_DIR).find((f) => {
      if (!f.startsWith('scale-') || f === 'scale-latest.json') return false;
      try {
        return (JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as { at?: string }).at === prev.at;
      } catch {
        return false;
      }
    }) ?? 'scale-latest.json (earlier)';
  const mine: ScenarioSummary = {
    file,
    at: prev.at,
    settings: { environments: prev.settings.environments, workers: prev.settings.workers ?? 1, killFirstWorker: prev.settings.killFirstWorker ?? false },
    ...Object.fromEntries(['timedOut', 'deploys', 'allFinishedMs', 'deploysPerMinute', 'workers', 'workerPeakRssMb', 'killed', 'exactlyOnce', 'eventsPerDeployHistory', 'machine'].map((k) => [k, prev[k]])),
  };
  return [mine, ...(prev.otherScenarios ?? [])]
    .filter((x) => key(x.settings) !== key(now))
    .filter((x, i, all) => all.findIndex((y) => key(y.settings) === key(x.settings)) === i);
}

/** How many times the start command ran, per host and environment. */
function startCounts(base: string, hosts: string[], envs: string[]): number[] {
  return hosts.flatMap((h) =>
    envs.map((env) => {
      try {
        return readFileSync(join(base, h, 'scale', env, 'starts.log'), 'utf8').split('\n').filter((l) => l.startsWith('started ')).length;
      } catch {
        return 0;
      }
    }),
  );
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function run(): Promise<void> {
  const startedAt = Date.now();
  const loadAtStart = loadavg().map((l) => round(l, 2));
  const dir = mkdtempSync(join(tmpdir(), 'cutover-scale-'));
  const say = (s: string): void => console.log(`[scale] ${s}`);
  let server: DevServer | undefined;
  let sandbox: Sandbox | undefined;
  const workers: WorkerProcess[] = [];
  let client: Client | undefined;
  let router: http.Server | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let failed = false;
  try {
    say(`world in ${dir}: dev server, 2 sshd hosts, ${WORKERS} worker process(es)${KILL ? ', the first SIGKILLed mid-run' : ''}; ${ENVS} environments`);
    server = await startDevServer({ dir });
    const base = join(dir, 'hosts');
    sandbox = await startSandbox({ base, app: APP, env: 'all', releases: {} });
    const routerPort = await freePort();
    router = await startRouterStandIn(base, routerPort);
    if (KILL && WORKERS < 2) throw new Error('--kill needs --workers 2 or more: someone has to finish the work');
    const envs = Array.from({ length: ENVS }, (_, i) => `e${String(i + 1).padStart(4, '0')}`);
    for (const h of sandbox.hosts) for (const env of envs) mkdirSync(join(base, h.name, 'scale', env), { recursive: true });

    await new Promise<void>((resolve, reject) =>
      execFile('bash', [join(REPO, 'scripts', 'build.sh')], (err, _o, stderr) => (err ? reject(new Error(`scripts/build.sh failed: ${stderr}`)) : resolve())),
    );
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorkerProcess(server.address, join(dir, `worker-${i + 1}.log`), {}, { compiled: true }));
    const idle = workers.map((w) => w.memory());
    const peakRss = idle.map((m) => m?.rss ?? 0);
    const lastMemory = idle.slice();
    sampler = setInterval(() => {
      workers.forEach((w, i) => {
        const m = w.memory();
        if (!m) return;
        lastMemory[i] = m;
        if (m.rss > peakRss[i]!) peakRss[i] = m.rss;
      });
    }, 100);
    client = new Client({ connection: await Connection.connect(await localTemporal(server.address)) });

    const requests: DeployRequest[] = envs.map((env) =>
      deployRequestSchema.parse({
        deployId: `deploy/${APP}/${env}/bench-1-${VERSION}`,
        version: VERSION,
        plan: scalePlan(sandbox!, base, env, routerPort),
        trigger: { source: 'cli', by: 'bench', key: 'bench-1' },
      }),
    );

    say(`requesting ${ENVS} deploys at once`);
    const t0 = Date.now();
    const c = client;
    await within('sending the deploy requests', 120_000, mapLimit(requests, 50, (r) => sendDeploy(c, r)));
    const sentMs = Date.now() - t0;
    const deadline = startedAt + TOTAL_LIMIT_MS;
    let finished = 0;
    const progress = setInterval(() => say(`${finished}/${ENVS} deploys closed after ${round((Date.now() - t0) / 1000)} s`), 10_000);
    let timedOut = false;
    let killed: { afterMs: number; closedBefore: number; pid: number } | undefined;
    try {
      // At the time limit (or on Ctrl-C), stop waiting and report what finished (partial figures).
      while (finished < ENVS) {
        if (Date.now() > deadline || interrupted.value) {
          timedOut = true;
          break;
        }
        await sleep(2000);
        finished = await closedDeploys(c).catch(() => finished);
        if (KILL && !killed && finished >= ENVS / 3) {
          killed = { afterMs: Date.now() - t0, closedBefore: finished, pid: workers[0]!.pid };
          say(`SIGKILL worker 1 (pid ${killed.pid}) with ${finished}/${ENVS} deploys closed`);
          await workers[0]!.kill();
        }
      }
    } finally {
      clearInterval(progress);
    }
    if (timedOut) say(`time limit reached with ${finished}/${ENVS} deploys closed: partial figures`);
    const doneMs = Date.now() - t0;
    clearInterval(sampler);
    sampler = undefined;
    const runsPerDeploy = await deployRuns(c);

    const timelines: DeployTimeline[] = await mapLimit(requests, 10, (r) =>
      deployTimeline(c, r.deployId).catch((): DeployTimeline => ({ events: 0, started: NaN, closed: NaN, status: 'other', activities: [], overhead: workflowOverhead([]) })),
    );
    const envEvents = await mapLimit(envs.slice(0, 20), 10, async (env) => (await c.workflow.getHandle(`env/${APP}/${env}`).fetchHistory()).events?.length ?? 0);
    const ok = timelines.filter((t) => t.status === 'completed');
    const lastClose = Math.max(...timelines.map((t) => t.closed).filter(Number.isFinite));
    const allFinishMs = lastClose - t0;
    const durations = ok.map((t) => t.closed - t.started);
    const activities = timelines.flatMap((t) => t.activities);
    const queued = activities.map((a) => a.started - a.scheduled);
    const ran = activities.map((a) => a.closed - a.started);
    const written = sandbox.hosts.flatMap((h) =>
      envs.filter((env) => {
        try {
          return readFileSync(join(base, h.name, 'scale', env, 'upstream.conf'), 'utf8').includes(`version=${VERSION}`);
        } catch {
          return false;
        }
      }),
    ).length;

    const mb = (b: number | undefined): number => round((b ?? NaN) / 2 ** 20);
    const ids = new Set(requests.map((r) => r.deployId));
    const runCounts = requests.map((r) => runsPerDeploy.get(r.deployId) ?? { runs: 0, completed: 0 });
    const exactlyOnce = {
      deploysWithOneCompletedRun: runCounts.filter((x) => x.runs === 1 && x.completed === 1).length,
      deploysWithMoreThanOneRun: runCounts.filter((x) => x.runs > 1).length,
      deploysNeverRun: runCounts.filter((x) => x.runs === 0).length,
      unexpectedDeployWorkflows: [...runsPerDeploy.keys()].filter((id) => !ids.has(id)).length,
      startSlotRunsPerHost: summary(startCounts(base, sandbox.hosts.map((h) => h.name), envs)),
    };
    const result = {
      benchmark: 'scale',
      at: new Date(startedAt).toISOString(),
      machine: { cores: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) },
      settings: {
        environments: ENVS,
        hosts: sandbox.hosts.length,
        workers: WORKERS,
        killFirstWorker: KILL,
        activitiesPerDeploy: round(activities.length / Math.max(1, timelines.length), 1),
        worker: 'node dist/workers/main.js (npm run worker: the prebuilt workflow bundle); tuning from the CUTOVER_* variables (workers/tuning.ts), their defaults unless set',
        tuningEnv: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CUTOVER_'))),
      },
      timedOut,
      timeLimitMs: TOTAL_LIMIT_MS,
      deploys: { requested: ENVS, succeeded: ok.length, notSucceeded: timelines.length - ok.length },
      requestAllMs: sentMs,
      allFinishedMs: round(allFinishMs),
      allFinishedSeenByClientMs: doneMs,
      /** Completed activities (SSH logins + commands) per second over the whole run. */
      activitiesPerSecond: round(activities.length / (doneMs / 1000), 2),
      deploysPerMinute: round(ok.length / ((timedOut ? doneMs : allFinishMs) / 60_000)),
      deployDurationMs: summary(durations),
      workers: workers.map((w, i) => ({
        pid: w.pid,
        sigkilled: killed?.pid === w.pid,
        rssMb: { idle: mb(idle[i]?.rss), peakSampled: mb(peakRss[i]), vmHwm: mb(lastMemory[i]?.hwm), last: mb(lastMemory[i]?.rss) },
      })),
      workerPeakRssMb: mb(Math.max(...peakRss)),
      killed: killed ?? null,
      exactlyOnce,
      eventsPerDeployHistory: summary(ok.map((t) => t.events)),
      eventsPerEnvironmentHistory: { sampledEnvironments: envEvents.length, ...summary(envEvents) },
      activities: {
        total: activities.length,
        retried: activities.filter((a) => a.attempt > 1).length,
        failed: activities.length - activities.filter((a) => Number.isFinite(a.closed)).length,
        queuedMs: summary(queued),
        ranMs: summary(ran),
      },
      upstreamFilesWritten: { expected: ENVS * sandbox.hosts.length, found: written },
      notes: [
        'Every deploy is the first one of its environment (nothing live: target blue, so no teardown). Per deploy, on each of the 2 hosts: readRouter, checkInstalled, stopSlot, startSlot, checkHealth, switchRouter, verifyRouter = 14 activities. They share one SSH connection per host (host key checked at connect), at most 8 commands at once on it (OpenSSH MaxSessions is 10).',
        'Slot commands are `echo`/`true`, the installed and health commands `true`; the router test and reload are `true`. The switch writes the real per-environment upstream file on the host (atomic temp + rename); verify curls, over SSH from the host, 5 times a loopback stand-in router whose X-App-Version comes from that very file, so verify passes only if the switch wrote it.',
        'allFinishedMs: from the first deploy request (signalWithStart) to the WorkflowExecutionCompleted of the last deploy workflow. deploysPerMinute = succeeded deploys / allFinishedMs.',
        'Worker RSS: /proc/<pid>/status VmRSS of the worker process, sampled every 100 ms (peakSampled), and the kernel high-water mark VmHWM (includes worker start-up and workflow bundling).',
        'queuedMs is ActivityTaskScheduled -> Started (waiting for one of the worker\'s 100 activity slots), ranMs Started -> Completed (waiting for one of the host\'s 8 SSH sessions + the command).',
      ],
    };
    const file = writeResults('scale', { ...result, otherScenarios: otherScenarios(result.settings) });
    console.log('');
    console.log(
      table([
        ['environments deploying at once', ENVS],
        ['deploys succeeded / not', `${ok.length} / ${timelines.length - ok.length}${timedOut ? ' (time limit hit)' : ''}`],
        [timedOut ? 'stopped waiting after' : 'time until all finished', `${round((timedOut ? doneMs : allFinishMs) / 1000, 2)} s`],
        ['activities completed per second', result.activitiesPerSecond],
        ['deploys per minute', result.deploysPerMinute],
        ['deploy duration mean / p50 / max', `${result.deployDurationMs.mean} / ${result.deployDurationMs.p50} / ${result.deployDurationMs.max} ms`],
        ...result.workers.map((w, i) => [`worker ${i + 1} RSS idle / peak (sampled) / VmHWM${w.sigkilled ? ' (SIGKILLed)' : ''}`, `${w.rssMb.idle} / ${w.rssMb.peakSampled} / ${w.rssMb.vmHwm} MB`]),
        ['deploys with exactly one completed run / more runs / none', `${exactlyOnce.deploysWithOneCompletedRun} / ${exactlyOnce.deploysWithMoreThanOneRun} / ${exactlyOnce.deploysNeverRun}`],
        ['startSlot runs per host and env (mean / max)', `${exactlyOnce.startSlotRunsPerHost.mean} / ${exactlyOnce.startSlotRunsPerHost.max}`],
        ['events per deploy history (mean)', result.eventsPerDeployHistory.mean],
        ['activities (retried)', `${activities.length} (${result.activities.retried})`],
        ['activity queued / ran mean ms', `${result.activities.queuedMs.mean} / ${result.activities.ranMs.mean}`],
        ['upstream files written', `${written}/${ENVS * sandbox.hosts.length}`],
      ]),
    );
    console.log(`\nresults: ${file}`);
    failed = ok.length !== ENVS || exactlyOnce.deploysWithOneCompletedRun !== ENVS || exactlyOnce.unexpectedDeployWorkflows > 0;
    if (failed) say(`${ENVS - ok.length} deploys did not succeed`);
  } catch (err) {
    failed = true;
    console.error(err);
    say(`kept ${dir} for inspection`);
  } finally {
    if (sampler) clearInterval(sampler);
    await client?.connection.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    router?.closeAllConnections();
    await new Promise<void>((r) => (router ? router.close(() => r()) : r()));
    await sandbox?.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
  if (!failed && !process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

void run();
