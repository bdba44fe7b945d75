// `npm run demo`: the whole thing on one machine. Starts the Temporal dev server (SQLite file
// under .cutover/), a cutover worker, and two sandbox hosts (sshd + nginx + the sample app, v1
// live on blue), then runs `cutover deploy shop demo v2 --wait` exactly as a CI job would.
// Everything stays up until Ctrl-C so the UI link and the curl keep working.
//
// `npm run demo -- --failover`: the disaster-recovery failover instead (sandbox/failover-demo.ts).
// `npm run demo -- --canary`: also starts Prometheus (scraping every slot each second) and a
// small steady load through both routers, deploys v2 as a canary (1% -> 5% -> 25% -> 100%, a
// few seconds each), then v3, which answers 20% of requests with HTTP 500 and is rolled back by
// the analysis.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { localTemporal, type ConnectOptions } from '../config/temporal';
import { envWorkflowId } from '../contract';
import { main as cli } from '../starters/cli';
import { processIo, type Io } from '../starters/output';
import { AuditStore } from '../activities/audit/store';
import { prepareAuditLog } from '../workers/audit';
import { createCutoverWorker } from '../workers/worker';
import { startSandbox, writeSandboxConfig, type Sandbox, type SandboxConfigOptions } from './config';
import { startLoad } from './load';
import { canConnect, stopSignals } from './procs';
import { startDevServer } from './devserver';
import { startPostgres } from './postgres';
import { startPrometheus, type SandboxPrometheus } from './prometheus';
import { freePort, type Behaviour } from './world';

// CUTOVER_DEMO_DIR lets a test run a demo of its own without touching a developer's.
const root = resolve(process.env.CUTOVER_DEMO_DIR ?? join(__dirname, '..', '.cutover'));
const exitWhenDone = process.argv.includes('--exit');
const canaryMode = process.argv.includes('--canary');
const say = (line: string): void => console.log(`[demo] ${line}`);

/** In canary mode v3 is a bad release: 20% of its answers are HTTP 500. */
const RELEASES: Record<string, Behaviour | undefined> = { v1: undefined, v2: undefined, v3: canaryMode ? { errorRate: 0.2 } : undefined };
const CANARY_PAUSE = '4s';
const LOAD_PER_SECOND = 50;

async function portOr(preferred: number): Promise<number> {
  return (await canConnect('127.0.0.1', preferred, 300)) ? freePort() : preferred;
}

/**
 * The dev server keeps its history across demos, but the sandbox hosts are new each time: an
 * environment left by an earlier demo would otherwise try to tear down hosts that are gone.
 */
async function forgetEarlierDemo(temporal: ConnectOptions): Promise<void> {
  const client = new Client({ connection: await Connection.connect(temporal) });
  try {
    await client.workflow.getHandle(envWorkflowId('shop', 'demo')).terminate('a new demo started with new sandbox hosts');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  } finally {
    await client.connection.close();
  }
}

/** The canary strategy of the demo: 1 -> 5 -> 25 -> 100, measured every 2 s on error rate and p99 latency. */
function canaryStrategy(prometheusUrl: string): NonNullable<SandboxConfigOptions['strategy']> {
  const window = '10s';
  return {
    canary: {
      steps: [{ weight: 1, pause: CANARY_PAUSE }, { weight: 5, pause: CANARY_PAUSE }, { weight: 25, pause: CANARY_PAUSE }, { weight: 100 }],
      analysis: {
        interval: '2s',
        failureLimit: 1,
        inconclusiveLimit: 3,
        metrics: [
          {
            name: 'error-rate',
            prometheus: {
              url: prometheusUrl,
              query: `(sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[${window}])) or vector(0)) / sum(rate(http_requests_total{version="{{version}}"}[${window}]))`,
            },
            failIf: '> 0.05',
          },
          {
            name: 'p99-latency',
            prometheus: { url: prometheusUrl, query: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="{{version}}"}[${window}])))` },
            failIf: '> 0.2',
          },
        ],
      },
    },
  };
}

/** The CLI in-process, its lines printed as usual and kept for the summary. */
async function cutover(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const io: Io = {
    ...processIo,
    stdout: (l) => {
      lines.push(l);
      processIo.stdout(l);
    },
    stderr: (l) => {
      lines.push(l);
      processIo.stderr(l);
    },
  };
  say(`$ cutover ${args.filter((a, i) => a !== '-c' && args[i - 1] !== '-c').join(' ')}`);
  return { code: await cli(args, io), lines };
}

async function blueGreenDemo(config: string, sandbox: Sandbox, uiUrl: string): Promise<number> {
  const { code } = await cutover(['-c', config, 'deploy', 'shop', 'demo', 'v2', '--wait']);
  // With --exit the world stops next: no link or command to try on it.
  if (exitWhenDone) return code;
  const web1 = sandbox.hosts[0]!;
  console.log('');
  say(`Temporal UI:  ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent("CutoverApp='shop'")}`);
  say(`see it:       curl -si ${web1.url} | grep -i x-app-version`);
  say(`status:       bin/cutover -c ${config} status shop demo`);
  say(`roll back:    bin/cutover -c ${config} rollback shop demo --wait   (within 5 minutes, before the teardown)`);
  say(`deploy more:  bin/cutover -c ${config} deploy shop demo v3 --wait`);
  say(`audit log:    bin/cutover -c ${config} audit --app shop --env demo --since 1h   (--format csv|json)`);
  return code;
}

async function canaryDemo(config: string, sandbox: Sandbox, uiUrl: string, prometheus: SandboxPrometheus): Promise<number> {
  say('waiting for Prometheus to scrape every slot (target discovery runs every 5 s)');
  await prometheus.waitForData('count(up{job="app"}) >= 4', 30_000);
  say(`sending ${LOAD_PER_SECOND} requests/s through both routers, so the canary has traffic to be measured on`);
  const load = startLoad(sandbox.hosts.map((h) => h.url), LOAD_PER_SECOND, 10 * 60_000);
  say(`canary of v2: 1% -> 5% -> 25% -> 100%, ${CANARY_PAUSE} each, error rate and p99 latency measured every 2 s`);
  const good = await cutover(['-c', config, 'deploy', 'shop', 'demo', 'v2', '--wait']);
  say('canary of v3, which answers 20% of its requests with HTTP 500: the analysis should roll it back');
  const bad = await cutover(['-c', config, 'deploy', 'shop', 'demo', 'v3', '--wait']);
  const stats = await load.stop();
  const served = sandbox.hosts.map((h) => `${h.name} ${/color=(\w+) version=(\S+)/.exec(h.readUpstream())?.slice(1).join(' ') ?? '?'}`).join(', ');
  const reason = bad.lines.find((l) => /failed - rolled back/.test(l)) ?? bad.lines.at(-1) ?? '';
  const brokeAt = /analysis failed at (\d+)%/.exec(reason)?.[1];
  const graph = `${prometheus.url}/graph?g0.expr=${encodeURIComponent('sum by (version, code) (rate(http_requests_total[10s]))')}&g0.tab=0&g0.range_input=5m`;
  console.log('');
  say('what happened:');
  say(`  v2: ${good.code === 0 ? 'went 1% -> 5% -> 25% -> 100% and is live' : `FAILED (exit ${good.code})`}`);
  say(`  v3: ${bad.code === 1 ? 'rolled back by the analysis (exit 1)' : `unexpected exit ${bad.code}`}: ${reason.replace(/^deploy \S+ failed: /, '')}`);
  say(`  routers now: ${served}`);
  const why = stats.failed > 0 ? `the 500s v3 answered before the rollback${brokeAt ? `, at ${brokeAt}% of the traffic` : ''}` : 'none';
  say(`  load: ${stats.sent} requests, ${stats.failed} failed (${why}); 200s by version ${JSON.stringify(stats.versions)}`);
  const code = good.code === 0 && bad.code === 1 ? 0 : 1;
  if (exitWhenDone) return code;
  console.log('');
  say(`Temporal UI:  ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent("CutoverApp='shop' AND CutoverStrategy='canary'")}`);
  say(`Prometheus:   ${graph}`);
  say(`status:       bin/cutover -c ${config} status shop demo`);
  say(`steer one:    bin/cutover -c ${config} deploy shop demo v1 --wait, and meanwhile`);
  say(`              bin/cutover -c ${config} pause|resume|promote|abort shop demo`);
  say(`              the analysis needs traffic (without it every measurement is inconclusive and the canary is rolled back):`);
  say(`              while :; do curl -s -o /dev/null ${sandbox.hosts[0]!.url}; sleep 0.02; done`);
  return code;
}

/**
 * The worker's log at WARN, except the SDK's "Workflow failed" for a canary the analysis rolled
 * back: that is what the canary demo shows, and the CLI already says why.
 */
function demoLogger(): DefaultLogger {
  const plain = new DefaultLogger('WARN');
  return new DefaultLogger('WARN', (entry) => {
    if (canaryMode && entry.message === 'Workflow failed' && entry.meta?.workflowType === 'canaryDeploy') return;
    plain.log(entry.level, entry.message, entry.meta);
  });
}

async function run(): Promise<number> {
  if (process.argv.includes('--failover')) return (await import('./failover-demo')).failoverDemo(exitWhenDone);
  // The demo stops the worker itself on Ctrl-C, after which it stops the hosts and the server;
  // the SDK's own signal handling would start draining the worker under it.
  Runtime.install({ logger: demoLogger(), shutdownSignals: [] });
  const stopping = onStopSignals();
  say('starting the Temporal dev server (database .cutover/temporal.db)');
  const server = await startDevServer({ dir: root, port: await portOr(7233), uiPort: await portOr(8233) });
  const base = join(root, 'sandbox');
  rmSync(base, { recursive: true, force: true });
  say('starting two sandbox hosts: sshd + nginx + the sample app v1 on blue');
  const sandbox = await startSandbox({ base, app: 'shop', env: 'demo', releases: RELEASES, initial: { color: 'blue', version: 'v1' } });
  let prometheus: SandboxPrometheus | undefined;
  if (canaryMode) {
    say('starting Prometheus, scraping the blue and green slot of every host each second');
    rmSync(join(root, 'prometheus'), { recursive: true, force: true });
    const targets = sandbox.hosts.flatMap((h) => [`${h.address}:${h.ports.blue}`, `${h.address}:${h.ports.green}`]);
    prometheus = await startPrometheus({ dir: join(root, 'prometheus'), targets, scrapeIntervalMs: 1000 }).catch(async (err: unknown) => {
      await sandbox.stop();
      await server.stop();
      throw err;
    });
  }
  say('starting PostgreSQL for the audit log (.cutover/postgres)');
  const postgres = await startPostgres({ dir: join(root, 'postgres') }).catch(async (err: unknown) => {
    await prometheus?.stop();
    await sandbox.stop();
    await server.stop();
    throw err;
  });
  const temporal = await localTemporal(server.address);
  await forgetEarlierDemo(temporal);
  const connection = await NativeConnection.connect(temporal);
  const audit = new AuditStore(postgres.url());
  const worker = await createCutoverWorker({ connection, deps: { audit } });
  await prepareAuditLog({ store: audit, connection, namespace: 'default', taskQueue: worker.worker.options.taskQueue, retentionDays: 90, log: say });
  const running = worker.run();
  const stop = once(async (): Promise<void> => {
    await everyStep([
      ['worker', async () => {
        if (worker.worker.getState() === 'RUNNING') worker.worker.shutdown();
        await running;
      }],
      ['connection', () => connection.close()],
      ['prometheus', async () => prometheus?.stop()],
      ['postgres', () => postgres.stop()],
      ['hosts', () => sandbox.stop()],
      ['temporal', () => server.stop()],
    ]);
  });
  void stopping.then(() => stop());
  try {
    const config = writeSandboxConfig(join(root, 'cutover.yml'), sandbox.hosts, {
      app: 'shop',
      env: 'demo',
      teardownDelay: '5m',
      temporal: { address: server.address, uiUrl: server.uiUrl },
      audit: { databaseUrl: postgres.url() },
      ...(prometheus ? { strategy: canaryStrategy(prometheus.url) } : {}),
    });
    say(`config: ${config}`);
    const code = prometheus ? await canaryDemo(config, sandbox, server.uiUrl, prometheus) : await blueGreenDemo(config, sandbox, server.uiUrl);
    if (exitWhenDone) {
      await stop();
      say('stopped: worker, hosts, PostgreSQL, Temporal (--exit; run without it to keep them up and try status, rollback, deploy)');
      return code;
    }
    say('running until Ctrl-C');
    await stopping;
    await stop();
    say('stopped: worker, hosts, PostgreSQL, Temporal');
    return code;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves on the first SIGINT/SIGTERM; a second one kills every process the demo started, at once. */
function onStopSignals(): Promise<NodeJS.Signals> {
  return stopSignals(
    (sig) => say(`${sig}: stopping the worker, the hosts, PostgreSQL and Temporal (again to force)`),
    (sig) => say(`${sig} again: killing everything the demo started`),
  );
}

const once = <T>(fn: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
};

/** Run every cleanup step even when one fails; report the failures after. */
async function everyStep(steps: [string, () => Promise<unknown>][]): Promise<void> {
  const failed: string[] = [];
  for (const [what, step] of steps) {
    await step().catch((err: unknown) => failed.push(`${what}: ${err instanceof Error ? err.message : String(err)}`));
  }
  if (failed.length > 0) console.error(`[demo] cleanup problems:\n${failed.join('\n')}`);
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
