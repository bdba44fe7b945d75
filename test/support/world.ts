// The world for the fault-injection tests: a Temporal dev server, two sandbox hosts (sshd +
// nginx + two slots each), a Slack stand-in, the cutover worker as its OWN PROCESS (so it can
// be SIGKILLed and restarted), and the `cutover` CLI run as a real process, as CI runs it.
// Every check reads the hosts themselves: the router file, the processes, what nginx serves.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startSandbox, writeSandboxConfig, type Sandbox, type SandboxConfigOptions } from '../../sandbox/config';
import { startDevServer, type DevServer } from '../../sandbox/devserver';
import { sleep, spawnDaemon, type Daemon } from '../../sandbox/procs';
import type { Behaviour, SandboxHost } from '../../sandbox/world';
import { progressQuery, stateQuery, type EnvState, type ProgressEntry } from '../../contract';
import type { Color } from '../../contract';
import { startFakeSlack, type FakeSlack, type FakeSlackMessage } from './fake-slack';
import { startLoad, type Load, type LoadStats } from '../../sandbox/load';
import { startPrometheus, type SandboxPrometheus } from '../../sandbox/prometheus';

const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'bin/cutover');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const WORKER_MAIN = join(ROOT, 'workers/main.ts');

export const APP = 'shop';
export const ENV = 'prod';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The cutover worker as a separate process, in its own process group. */
export class WorkerProcess {
  private daemon: Daemon | undefined;
  private starts = 0;
  readonly log: string;

  constructor(
    dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.log = join(dir, 'worker.log');
  }

  get pid(): number | undefined {
    return this.daemon?.isRunning() ? this.daemon.child.pid : undefined;
  }

  /** Start a worker and wait until it polls the task queue (its workflow bundle is built). */
  async start(timeoutMs = 90_000): Promise<void> {
    assert.equal(this.pid, undefined, 'a worker is already running');
    const offset = existsSync(this.log) ? statSync(this.log).size : 0;
    this.starts++;
    const d = spawnDaemon(TSX, [WORKER_MAIN], this.log, { ...process.env, ...this.env });
    this.daemon = d;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = existsSync(this.log) ? readFileSync(this.log, 'utf8').slice(offset) : '';
      if (text.includes('cutover worker polling task queue')) return;
      if (!d.isRunning()) throw new Error(`worker exited at start:\n${text.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`worker not polling after ${timeoutMs} ms:\n${text.slice(-2000)}`);
      await sleep(100);
    }
  }

  /** SIGKILL the worker's whole process group (tsx and the node it runs): no graceful shutdown. */
  async kill(): Promise<void> {
    const d = this.daemon;
    if (!d?.isRunning() || d.child.pid === undefined) return;
    process.kill(-d.child.pid, 'SIGKILL');
    await d.exited;
    this.daemon = undefined;
  }

  async stop(): Promise<void> {
    await this.daemon?.stop(5000);
    this.daemon = undefined;
  }

  get startCount(): number {
    return this.starts;
  }

  tail(lines = 40): string {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

export interface AppProcess {
  pid: number;
  version: string;
}

export interface WorldOptions {
  /**
   * Start a real Prometheus scraping every host's blue and green slot (1 s scrape). Its
   * `rate()` has data only ~7 s after start, so a suite starts it once, with the world.
   */
  prometheus?: boolean;
  /**
   * Runs once the dev server is up, before the worker starts: the worker's extra environment
   * (e.g. to reach Temporal through a TLS proxy, or a metrics address) and what to stop at the end.
   */
  worker?: (server: DevServer, dir: string) => Promise<{ env: NodeJS.ProcessEnv; stop?: () => Promise<void> }>;
}

export interface World {
  dir: string;
  server: DevServer;
  /** Set with `{ prometheus: true }`; `prometheus.url` goes into the canary's metrics. */
  prometheus: SandboxPrometheus | undefined;
  sandbox: Sandbox;
  hosts: SandboxHost[];
  slack: FakeSlack;
  worker: WorkerProcess;
  client: Client;
  config(name: string, opts?: Partial<SandboxConfigOptions>): string;
  /** Run the CLI as GitLab pipeline `pipeline` of alice would; `env` overrides variables (e.g. another GITLAB_USER_LOGIN). */
  cutover(args: string[], pipeline: string, timeoutMs?: number, env?: NodeJS.ProcessEnv): Promise<CliRun>;
  /** Requests per second in total through both routers; default 100. */
  startLoad(ratePerSecond?: number): Load;
  /** What each router's upstream file routes to, `colour:version`. */
  routed(): (string | undefined)[];
  /** `status version` of one request through each router. */
  served(): string[];
  /** Every app process of that colour on each host, found with ps by host root and `--color`. */
  appProcesses(color: Color): AppProcess[][];
  progress(workflowId: string): Promise<ProgressEntry[] | undefined>;
  envState(): Promise<EnvState | undefined>;
  stop(): Promise<void>;
}

/** Cleanup that always runs every step, even when earlier ones fail or never started. */
async function cleanupAll(steps: [string, (() => Promise<unknown>) | undefined][]): Promise<void> {
  const errors: string[] = [];
  for (const [what, step] of steps) {
    if (!step) continue;
    try {
      await Promise.race([step(), sleep(30_000).then(() => Promise.reject(new Error('timed out after 30 s')))]);
    } catch (e) {
      errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (errors.length) console.error(`cleanup problems:\n${errors.join('\n')}`);
}

/** Every host's blue and green slot, `address:port`: what Prometheus scrapes. */
export const slotTargets = (hosts: SandboxHost[]): string[] => hosts.flatMap((h) => [`${h.address}:${h.ports.blue}`, `${h.address}:${h.ports.green}`]);

export async function startWorld(prefix: string, releases: Record<string, Behaviour | undefined>, opts: WorldOptions = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), `cutover-${prefix}-`));
  let server: DevServer | undefined;
  let sandbox: Sandbox | undefined;
  let prometheus: SandboxPrometheus | undefined;
  let slack: FakeSlack | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  let workerSetup: { env: NodeJS.ProcessEnv; stop?: () => Promise<void> } | undefined;
  const stop = (): Promise<void> =>
    cleanupAll([
      ['worker', worker && (() => worker!.stop())],
      ['worker setup', workerSetup?.stop],
      ['client', connection && (() => connection!.close())],
      ['hosts', sandbox && (() => sandbox!.stop())],
      ['prometheus', prometheus && (() => prometheus!.stop())],
      ['slack', slack && (() => slack!.close())],
      ['temporal', server && (() => server!.stop())],
    ]);
  try {
    server = await startDevServer({ dir });
    sandbox = await startSandbox({ base: join(dir, 'hosts'), app: APP, env: ENV, releases, initial: { color: 'blue', version: 'v1' } });
    // Before the worker, so Prometheus's first scrapes overlap with the worker's start.
    if (opts.prometheus) prometheus = await startPrometheus({ dir: join(dir, 'prometheus'), targets: slotTargets(sandbox.hosts), scrapeIntervalMs: 1000 });
    slack = await startFakeSlack();
    workerSetup = opts.worker ? await opts.worker(server, dir) : undefined;
    worker = new WorkerProcess(dir, { TEMPORAL_ADDRESS: server.address, SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.url, ...workerSetup?.env });
    await worker.start();
    connection = await Connection.connect({ address: server.address });
  } catch (e) {
    await stop();
    throw e;
  }
  const client = new Client({ connection });
  const hosts = sandbox.hosts;
  const s = server;

  const world: World = {
    dir,
    server,
    prometheus,
    sandbox,
    hosts,
    slack,
    worker,
    client,
    config: (name, opts = {}) =>
      writeSandboxConfig(join(dir, `${name}.yml`), hosts, {
        app: APP,
        env: ENV,
        teardownDelay: '10m',
        slackChannel: '#deploys',
        temporal: { address: s.address, uiUrl: s.uiUrl },
        ...opts,
      }),
    cutover: (args, pipeline, timeoutMs = 240_000, extra = {}) => {
      const env = { ...process.env, GITLAB_CI: 'true', CI_PIPELINE_ID: pipeline, GITLAB_USER_LOGIN: 'alice', CI_COMMIT_SHA: 'abc123', CI_JOB_URL: 'https://gitlab.example/job/1', ...extra };
      return new Promise((done) => {
        execFile(CLI, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          done({ code, stdout, stderr });
        });
      });
    },
    startLoad: (ratePerSecond = 100) => startLoad(hosts.map((h) => h.url), ratePerSecond, 5 * 60_000),
    routed: () => hosts.map((h) => /color=(\w+) version=(\S+)/.exec(h.readUpstream())?.slice(1).join(':')),
    served: () =>
      hosts.map((h) => execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %header{x-app-version}', h.url], { encoding: 'utf8' }).trim()),
    appProcesses: (color) => {
      const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
      return hosts.map((h) =>
        ps
          .split('\n')
          .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .filter((m) => m[2]!.includes(`${h.root}/releases/`) && m[2]!.includes(`--color ${color}`) && !m[2]!.includes('<defunct>'))
          .map((m) => ({ pid: Number(m[1]), version: /--version (\S+)/.exec(m[2]!)?.[1] ?? '?' })),
      );
    },
    progress: async (workflowId) => {
      try {
        return await Promise.race([
          client.workflow.getHandle(workflowId).query(progressQuery),
          sleep(3000).then(() => undefined),
        ]);
      } catch {
        return undefined;
      }
    },
    envState: async () => {
      try {
        return await Promise.race([
          client.workflow.getHandle(`env/${APP}/${ENV}`).query(stateQuery),
          sleep(5000).then(() => undefined),
        ]);
      } catch {
        return undefined;
      }
    },
    stop,
  };
  return world;
}

export async function eventually(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/** Wait until the deploy's progress query shows `step` (optionally with a message matching `re`). */
export async function waitForStep(w: World, deployId: string, step: string, re?: RegExp, timeoutMs = 60_000): Promise<ProgressEntry[]> {
  let entries: ProgressEntry[] = [];
  await eventually(
    `${deployId} reaches step ${step}${re ? ` ${re}` : ''}`,
    async () => {
      entries = (await w.progress(deployId)) ?? [];
      return entries.some((e) => e.step === step && (!re || re.test(e.message)));
    },
    timeoutMs,
    50,
  );
  return entries;
}

/**
 * The final state on the hosts: every router serves `color:version`, nginx answers with that
 * version, exactly one app process in the live slot (the one its pid file names) and at most one
 * in the other slot (`idle`: 'running' | 'stopped' | 'any').
 */
export function assertHosts(w: World, live: { color: Color; version: string }, idle: 'running' | 'stopped' | 'any', why = ''): void {
  const other: Color = live.color === 'blue' ? 'green' : 'blue';
  const at = (what: string) => `${what}${why ? ` (${why})` : ''}`;
  assert.deepEqual(w.routed(), w.hosts.map(() => `${live.color}:${live.version}`), at('every router file routes to the live colour'));
  assert.deepEqual(w.served(), w.hosts.map(() => `200 ${live.version}`), at('every nginx answers with the live version'));
  const liveProcs = w.appProcesses(live.color);
  liveProcs.forEach((procs, i) => {
    const h = w.hosts[i]!;
    assert.equal(procs.length, 1, at(`${h.name}: exactly one ${live.color} process, found ${JSON.stringify(procs)}`));
    assert.equal(procs[0]!.version, live.version, at(`${h.name}: the ${live.color} process runs ${live.version}`));
    assert.equal(h.pidOf(live.color), procs[0]!.pid, at(`${h.name}: the ${live.color} pid file names that process`));
  });
  w.appProcesses(other).forEach((procs, i) => {
    const h = w.hosts[i]!;
    assert.ok(procs.length <= 1, at(`${h.name}: at most one ${other} process, found ${JSON.stringify(procs)}`));
    if (idle === 'running') assert.equal(procs.length, 1, at(`${h.name}: ${other} kept running for rollback`));
    if (idle === 'stopped') assert.equal(procs.length, 0, at(`${h.name}: ${other} stopped, found ${JSON.stringify(procs)}`));
    if (procs.length === 1) assert.equal(h.pidOf(other), procs[0]!.pid, at(`${h.name}: the ${other} pid file names that process`));
  });
}

/** No Slack notification twice: metadata keys are unique; returns the messages of `deployId`'s thread. */
export function assertSlackOnce(w: World, deployId: string): FakeSlackMessage[] {
  const all = w.slack.messages();
  const keys = all.map((m) => m.metadata?.event_payload.key).filter((k): k is string => typeof k === 'string');
  const dupes = keys.filter((k, i) => keys.indexOf(k) !== i);
  assert.deepEqual(dupes, [], `Slack notifications sent twice: ${dupes.join(', ')}`);
  const parents = all.filter((m) => m.metadata?.event_payload.key === `${deployId}:headline`);
  assert.equal(parents.length, 1, `one thread for ${deployId}`);
  const thread = all.filter((m) => m.threadTs === parents[0]!.ts);
  const events = thread.map((m) => String(m.metadata?.event_payload.key ?? '').slice(deployId.length + 1));
  assert.equal(new Set(events).size, events.length, `each event once in the thread: ${events.join(', ')}`);
  return [parents[0]!, ...thread];
}

/** The events of a deploy's Slack thread, in order (`started`, `switched`, `done`, ...). */
export const slackEvents = (w: World, deployId: string): string[] =>
  assertSlackOnce(w, deployId)
    .slice(1)
    .map((m) => String(m.metadata?.event_payload.key ?? '').slice(deployId.length + 1));

export function assertNoFailedRequests(load: LoadStats): void {
  assert.equal(load.failed, 0, `failed requests through nginx: ${load.failed} of ${load.sent}:\n${load.failures.join('\n')}`);
  assert.ok(load.sent > 50, `the load ran (${load.sent} requests)`);
}

export const deployIdOf = (pipeline: string, version: string): string => `deploy/${APP}/${ENV}/gitlab-${pipeline}-${version}`;

export { sleep };
