// Canary deploys end to end against real servers on loopback: the Temporal dev server, two hosts
// (each a real sshd + nginx + the sample app in two slots), a real Prometheus scraping every
// slot each second, the cutover worker as its own process and the `cutover` CLI run as CI runs
// it. A steady load of 100 req/s runs through both routers during every change; traffic
// shares are measured from the answers' X-App-Version, in windows read from the deploy's history.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SwitchInput } from '../../activities/nginx';
import { canaryQuery, type CanaryStatus } from '../../contract/api';
import type { Color } from '../../contract/spec';
import type { SandboxConfigOptions } from '../../sandbox/config';
import type { LoadSample, LoadStats } from '../../sandbox/load';
import { activityRuns, recordHistory, type ActivityRun } from '../support/histories';
import { APP, assertHosts, deployIdOf, ENV, eventually, startWorld, type CliRun, type World } from '../support/world';

let w: World;

const INTERVAL_MS = 2000;
const FAILURE_LIMIT = 1;
/** After the last host's switchRouter returned: `nginx -s reload` returns before the new workers answer. */
const RELOAD_SETTLE_MS = 500;

before(async () => {
  w = await startWorld(
    'canary',
    { v1: undefined, v2: undefined, v3: undefined, v4: undefined, v5: undefined, bad: { errorRate: 0.2 }, slow: { latencyMs: 300 } },
    { prometheus: true },
  );
  // Every slot target discovered and scraped once (the green ones are down: up == 0).
  await prometheus().waitForData('count(up{job="app"}) >= 4', 30_000);
});

after(async () => {
  await w?.stop();
});

function prometheus(): NonNullable<World['prometheus']> {
  assert.ok(w.prometheus, 'the world was started with Prometheus');
  return w.prometheus;
}

// ---------- config ----------

type Strategy = NonNullable<SandboxConfigOptions['strategy']>;
type StepInput = { weight?: number; pause?: string | Record<string, never> };

const metrics = (url: string) => [
  {
    name: 'error-rate',
    prometheus: {
      url,
      query: '(sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[10s])) or vector(0)) / sum(rate(http_requests_total{version="{{version}}"}[10s]))',
    },
    failIf: '> 0.05',
  },
  {
    name: 'p99-latency',
    prometheus: { url, query: 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="{{version}}"}[10s])))' },
    failIf: '> 0.2',
  },
];

const canary = (steps: StepInput[]): Strategy => ({
  canary: {
    steps,
    analysis: { interval: `${INTERVAL_MS}ms`, failureLimit: FAILURE_LIMIT, inconclusiveLimit: 3, metrics: metrics(prometheus().url) },
  },
});

const config = (name: string, steps: StepInput[], opts: Partial<SandboxConfigOptions> = {}): string => w.config(name, { strategy: canary(steps), ...opts });

const deploy = (file: string, version: string, pipeline: string): Promise<CliRun> => w.cutover(['-c', file, 'deploy', APP, ENV, version, '--wait'], pipeline);

// ---------- load ----------

interface Measured<T> {
  result: T;
  load: LoadStats;
  /** Requests per second actually sent. */
  rate: number;
}

async function underLoad<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  const started = Date.now();
  const load = w.startLoad(100);
  await new Promise((r) => setTimeout(r, 300));
  const result = await fn();
  await new Promise((r) => setTimeout(r, 300));
  const stats = await load.stop();
  return { result, load: stats, rate: stats.sent / ((Date.now() - started) / 1000) };
}

const answeredBy = (samples: LoadSample[], version: string): number => samples.filter((s) => s.version === version).length;

// ---------- history ----------

interface StepWindow {
  weight: number;
  from: number;
  to: number;
}

/**
 * The time each canary weight was in force on every router: from the last host's switchRouter
 * to that weight (plus the reload settle) to the first switchRouter of the next weight.
 */
function stepWindows(runs: ActivityRun[]): StepWindow[] {
  const groups: { weight: number; started: number; closed: number }[] = [];
  for (const r of runs.filter((x) => x.type === 'switchRouter')) {
    const weight = (r.input as SwitchInput).canary?.weight ?? 100;
    const last = groups.at(-1);
    if (last && last.weight === weight) last.closed = Math.max(last.closed, r.closed);
    else groups.push({ weight, started: r.started, closed: r.closed });
  }
  return groups.slice(0, -1).map((g, i) => ({ weight: g.weight, from: g.closed + RELOAD_SETTLE_MS, to: groups[i + 1]!.started }));
}

/** Share (percent) of the answers sent in the window that came from `version`. */
function shareIn(samples: LoadSample[], win: StepWindow, version: string): { share: number; answers: number; canary: number } {
  const inside = samples.filter((s) => s.at >= win.from && s.at <= win.to && s.version !== null);
  const canaryAnswers = answeredBy(inside, version);
  return { share: (100 * canaryAnswers) / Math.max(1, inside.length), answers: inside.length, canary: canaryAnswers };
}

// ---------- manual control ----------

/** `cutover promote|abort shop prod`, as an operator runs it (the CLI sends the Update to the running canary). */
const control = (verb: 'promote' | 'abort', file: string, pipeline: string): Promise<CliRun> => w.cutover(['-c', file, verb, APP, ENV], pipeline, 60_000);

async function canaryStatus(deployId: string): Promise<CanaryStatus | undefined> {
  try {
    return await w.client.workflow.getHandle(deployId).query(canaryQuery);
  } catch {
    return undefined;
  }
}

const awaitingPromotion = (deployId: string): Promise<void> =>
  eventually(`${deployId} waits for cutover promote`, async () => (await canaryStatus(deployId))?.awaitingPromotion === true, 60_000, 200);

/** Every host back on `color:version` alone: no canary line in any upstream file, nothing else answering. */
function assertStable(color: Color, version: string, why: string): void {
  assertHosts(w, { color, version }, 'stopped', why);
  w.hosts.forEach((h) => assert.doesNotMatch(h.readUpstream(), /canary=|weight=/, `${h.name}: no canary in the upstream file (${why})`));
}

// ---------- the tests ----------

describe('canary deploys on real hosts with a real Prometheus', () => {
  test('a good canary goes 1% -> 5% -> 25% -> 100% with no failed request; shares follow the weights', async () => {
    const file = config('good', [
      { weight: 1, pause: '10s' },
      { weight: 5, pause: '10s' },
      { weight: 25, pause: '10s' },
      { weight: 100 },
    ]);
    const { result: run, load } = await underLoad(() => deploy(file, 'v2', '2001'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assertHosts(w, { color: 'green', version: 'v2' }, 'running', 'v1 kept on blue for the rollback window');
    w.hosts.forEach((h) => assert.doesNotMatch(h.readUpstream(), /canary=/, `${h.name}: no canary line once at 100%`));

    const id = deployIdOf('2001', 'v2');
    const runs = await activityRuns(w.client, id);
    const windows = stepWindows(runs);
    assert.deepEqual(windows.map((x) => x.weight), [1, 5, 25], 'one window per configured weight');
    const shares = windows.map((win) => ({ weight: win.weight, ...shareIn(load.samples, win, 'v2') }));
    console.log(`measured shares: ${shares.map((s) => `${s.weight}% -> ${s.share.toFixed(2)}% (${s.canary}/${s.answers})`).join(', ')}`);
    // 1% of ~1,000 answers is ~10 canary answers: asserted loosely. 5% and 25% tightly.
    const tolerance: Record<number, [number, number]> = { 1: [0.3, 2.5], 5: [3.5, 6.5], 25: [22, 28] };
    for (const s of shares) {
      const [lo, hi] = tolerance[s.weight]!;
      assert.ok(s.answers > 500, `${s.weight}%: enough answers in the window (${s.answers})`);
      assert.ok(s.share >= lo && s.share <= hi, `${s.weight}%: measured ${s.share.toFixed(2)}% (${s.canary}/${s.answers}), expected ${lo}-${hi}%`);
    }
    const measured = runs.filter((r) => r.type === 'measurePrometheus');
    assert.ok(measured.length >= 6, `the analysis measured during the pauses (${measured.length} measurements)`);
    recordHistory(w.server.address, id, 'canary-deploy-succeeded');
  });

  test('cutover rollback inside the teardown window after a canary is instant, as after blue-green', async () => {
    const file = config('good-rollback', [{ weight: 100 }]);
    const { result: run, load } = await underLoad(() => w.cutover(['-c', file, 'rollback', APP, ENV, '--wait'], '2002'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    // `rollback --wait` answers once traffic is back and verified; the stop of v2 follows.
    await w.client.workflow.getHandle('rollback/shop/prod/gitlab-2002').result();
    assertStable('blue', 'v1', 'rolled back to v1, v2 stopped');
    const runs = await activityRuns(w.client, 'rollback/shop/prod/gitlab-2002');
    const types = [...new Set(runs.map((r) => r.type))].sort();
    // The verification is a local activity (no activity task of its own): it shows in the progress.
    assert.deepEqual(types.filter((t) => !t.startsWith('slack')), ['stopSlot', 'switchRouter'], 'no start and no health wait');
    assert.ok((await w.progress('rollback/shop/prod/gitlab-2002'))?.some((p) => p.step === 'verifying'), 'verified through the routers');
    const switched = Math.max(...runs.filter((r) => r.type === 'switchRouter').map((r) => r.closed));
    const first = Math.min(...runs.map((r) => r.started));
    assert.ok(switched - first < 3000, `every host switched back ${Math.round(switched - first)} ms after the rollback's first activity`);
  });

  test('a canary answering 20% errors is rolled back on error-rate; failures bounded by weight x rate x detection time', async () => {
    const weight = 10;
    const file = config('bad', [{ weight, pause: '30s' }, { weight: 100 }]);
    const { result: run, load, rate } = await underLoad(() => deploy(file, 'bad', '2003'));
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const m = /error-rate = ([\d.]+) \(fail if > 0\.05\)/.exec(run.stderr);
    assert.ok(m, `the message names the metric and its value:\n${run.stderr}`);
    assert.ok(Number(m[1]) > 0.05 && Number(m[1]) < 0.5, `measured error rate ${m[1]}`);
    assertStable('blue', 'v1', 'every host back on 100% v1, the canary stopped');

    const toCanary = answeredBy(load.samples, 'bad');
    const detectionMs = INTERVAL_MS * (FAILURE_LIMIT + 1) + 1500;
    const bound = (weight / 100) * rate * (detectionMs / 1000);
    console.log(`bad canary: ${load.failed} failed of ${toCanary} answered by it (${load.sent} sent at ${rate.toFixed(1)} req/s); bound ${bound.toFixed(1)}`);
    assert.ok(load.failed > 0, 'the canary did answer with errors');
    assert.ok(
      load.samples.filter((s) => !s.ok).every((s) => s.status === 500 && s.version === 'bad'),
      `every failure is a 500 from the canary: ${load.failures.join('; ')}`,
    );
    assert.ok(load.failed <= bound, `${load.failed} failed requests; the bound is ${bound.toFixed(1)}`);
    assert.ok(toCanary <= bound, `${toCanary} requests reached the canary; at ${weight}% of ${rate.toFixed(1)} req/s for ${detectionMs} ms that is at most ${bound.toFixed(1)}`);
    recordHistory(w.server.address, deployIdOf('2003', 'bad'), 'canary-analysis-failed');
  });

  test('a slow canary (300 ms, no errors) is rolled back on p99-latency', async () => {
    const file = config('slow', [{ weight: 10, pause: '30s' }, { weight: 100 }]);
    const { result: run, load } = await underLoad(() => deploy(file, 'slow', '2004'));
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const m = /p99-latency = ([\d.]+) \(fail if > 0\.2\)/.exec(run.stderr);
    assert.ok(m, `the message names the metric and its value:\n${run.stderr}`);
    assert.ok(Number(m[1]) >= 0.3 && Number(m[1]) <= 0.5, `measured p99 ${m[1]} s`);
    assert.doesNotMatch(run.stderr, /error-rate = [\d.]+ \(fail if > 0\.05\): fail/, 'not the error rate');
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assert.ok(answeredBy(load.samples, 'slow') > 0, 'the slow canary did take traffic');
    assertStable('blue', 'v1', 'back on v1, the slow canary stopped');
  });

  test('a canary waiting at {pause: {}} goes on with cutover promote', async () => {
    const file = config('manual', [{ weight: 5, pause: {} }, { weight: 100 }]);
    const id = deployIdOf('2005', 'v3');
    const { result, load } = await underLoad(async () => {
      const run = deploy(file, 'v3', '2005');
      await awaitingPromotion(id);
      assert.equal((await canaryStatus(id))?.weight, 5);
      const promote = await control('promote', file, '2006');
      return { run: await run, promote };
    });
    assert.equal(result.promote.code, 0, result.promote.stderr + result.promote.stdout);
    assert.equal(result.run.code, 0, result.run.stderr + result.run.stdout);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assertHosts(w, { color: 'green', version: 'v3' }, 'running', 'promoted to 100%');
  });

  test('cutover abort rolls a waiting canary back (the deploy exits 1); a promote after it ended is refused with exit 2', async () => {
    const file = config('manual', [{ weight: 5, pause: {} }, { weight: 100 }]);
    const id = deployIdOf('2007', 'v4');
    const { result, load } = await underLoad(async () => {
      const run = deploy(file, 'v4', '2007');
      await awaitingPromotion(id);
      const abort = await control('abort', file, '2008');
      return { run: await run, abort };
    });
    assert.equal(result.abort.code, 0, result.abort.stderr + result.abort.stdout);
    assert.equal(result.run.code, 1, result.run.stderr + result.run.stdout);
    assert.match(result.run.stderr, /aborted by alice/);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assertStable('green', 'v3', 'back on v3, the aborted canary stopped');

    const late = await control('promote', file, '2009');
    assert.equal(late.code, 2, late.stderr + late.stdout);
    console.log(`promote after the abort: exit ${late.code}: ${late.stderr.trim().split('\n')[0]}`);
    assertStable('green', 'v3', 'a refused promote changes nothing');
  });

  test('after a canary, the teardown child stops the old colour when the (short) window closes', async () => {
    const file = config('teardown', [{ weight: 25, pause: '2s' }, { weight: 100 }], { teardownDelay: '3s' });
    const { result: run, load } = await underLoad(() => deploy(file, 'v5', '2010'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    const teardownId = 'teardown/shop/prod/gitlab-2010-v5';
    await eventually(
      `${teardownId} completed`,
      async () => {
        try {
          return (await w.client.workflow.getHandle(teardownId).describe()).status.name === 'COMPLETED';
        } catch {
          return false;
        }
      },
      30_000,
      200,
    );
    assertHosts(w, { color: 'blue', version: 'v5' }, 'stopped', 'green (v3) torn down');
    const state = await w.envState();
    assert.equal(state?.recent.find((r) => r.kind === 'teardown')?.outcome, 'succeeded');
    recordHistory(w.server.address, teardownId, 'teardown-succeeded');
  });
});
