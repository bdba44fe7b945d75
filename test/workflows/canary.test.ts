// The canary runbook on the time-skipping test server, with the hosts, Prometheus and Slack
// replaced by the in-memory model (FakeWorld): weights on every router, measurements every
// interval, breaches and inconclusive analysis rolled back, promote/pause/resume/abort as
// Updates, and the environment around it (teardown window, rollback, queue, worker restart).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import {
  abortUpdate,
  canaryQuery,
  pauseUpdate,
  progressQuery,
  promoteUpdate,
  resumeUpdate,
  type AnalysisSpec,
  type CanaryStatus,
  type CanaryStep,
  type CanaryStrategy,
  type DeployResult,
  type EnvState,
  type Plan,
  type RollbackResult,
} from '../../contract';
import type { Activities } from '../../activities';
import { causes, childResult, envState, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const METRIC = 'error-rate';
const THRESHOLD = 0.01;
const PASSING = 0.001;
const FAILING = 0.2;

/** The runbook of the brief: 1% → 5% → 25% → 100%, pausing 2, 5 and 10 minutes. */
const STEPS: CanaryStep[] = [
  { weight: 1, pause: { durationMs: 2 * MINUTE } },
  { weight: 5, pause: { durationMs: 5 * MINUTE } },
  { weight: 25, pause: { durationMs: 10 * MINUTE } },
  { weight: 100 },
];
const INTERVAL = 30 * SECOND;

function canary(steps: CanaryStep[] = STEPS, analysis: Partial<AnalysisSpec> = {}): CanaryStrategy {
  return {
    kind: 'canary',
    steps,
    analysis: {
      intervalMs: INTERVAL,
      failureLimit: 1,
      inconclusiveLimit: 3,
      metrics: [{ kind: 'prometheus', name: METRIC, url: 'http://prometheus:9090', query: 'sum(rate(http_errors{version="{{version}}"}[1m]))', failIf: { op: '>', value: THRESHOLD } }],
      ...analysis,
    },
  };
}

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

/** A measurement as the fake Prometheus saw it: server (skipped) time and the canary's weight then. */
interface Measured {
  at: number;
  weight: number;
}

/**
 * The world's activities, with every measurement's time recorded (the activity's scheduled
 * time is the server's clock, which skips) and a hook a test may use to change the world
 * right before a measurement.
 */
function activitiesOf(world: FakeWorld, measured: Measured[], beforeMeasure?: (n: number) => Promise<void> | void): Activities {
  const acts = world.activities();
  return {
    ...acts,
    async measurePrometheus(input) {
      await beforeMeasure?.(measured.length);
      const r = [...world.hosts.values()][0]?.router;
      measured.push({ at: Context.current().info.scheduledTimestampMs, weight: r?.canary?.weight ?? (r?.color === input.vars.color ? 100 : 0) });
      return acts.measurePrometheus(input);
    },
  };
}

interface Run {
  tq: string;
  env: string;
  measured: Measured[];
}

/**
 * Run `fn` with a worker whose activities act on `world`. Each test gets its own time-skipping
 * server: timers a finished test leaves behind must not hold time still for the next one.
 */
async function withWorker<T>(
  world: FakeWorld,
  fn: (run: Run) => Promise<T>,
  opts: { beforeMeasure?: (n: number) => Promise<void> | void; activities?: (a: Activities) => Activities } = {},
): Promise<T> {
  const taskQueue = `canary-${++queueNo}`;
  const measured: Measured[] = [];
  testEnv = await startTimeSkipping();
  try {
    const base = activitiesOf(world, measured, opts.beforeMeasure);
    const worker = await Worker.create({
      connection: testEnv.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: opts.activities ? opts.activities(base) : base,
    });
    return await worker.runUntil(fn({ tq: taskQueue, env: `env${queueNo}`, measured }));
  } finally {
    await testEnv.teardown();
  }
}

const hosts = ['web1', 'web2'];

/** A world where v1 is live in blue on every host and v2 measures as healthy. */
function blueV1(): FakeWorld {
  const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
  world.setMetric(METRIC, 'v2', PASSING);
  world.setMetric(METRIC, 'v3', PASSING);
  return world;
}

const canaryPlan = (env: string, strategy: CanaryStrategy = canary(), extra: { slackChannel?: string } = {}): Plan =>
  fakePlan(hosts, { env, strategy, ...extra });

/** The canary's own status; the child may not exist yet. */
async function canaryStatus(deployId: string): Promise<CanaryStatus> {
  for (let i = 0; ; i++) {
    try {
      return await testEnv.client.workflow.getHandle(deployId).query(canaryQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Wait until the canary's status matches, moving the server's clock `stepMs` at a time (0: in
 * real time). Small steps: the test sees each state before the next interval's timer fires.
 */
async function waitForCanary(deployId: string, pred: (s: CanaryStatus) => boolean, stepMs = 0, timeoutMs = 30_000): Promise<CanaryStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await canaryStatus(deployId);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`canary status never matched; last: ${JSON.stringify(s)}`);
    if (stepMs > 0) await testEnv.sleep(stepMs);
    else await new Promise((r) => setTimeout(r, 50));
  }
}

const deployFinished = (id: string) => (st: EnvState) => st.running === null && st.recent.some((op) => op.id === id);

/** The canary weights a host's router took, in order (the fake logs a `weigh` event per change). */
const weights = (world: FakeWorld, host = 'web1'): number[] => world.events.filter((e) => e.op === 'weigh' && e.host === host).map((e) => e.weight ?? -1);

/** The failure a child ended with (its type and message), from childResult's rejection. */
async function childFailure(deployId: string): Promise<{ type?: string; message: string }> {
  try {
    await childResult(testEnv.client, deployId);
  } catch (err) {
    const cause = (err as { cause?: { cause?: { type?: string; message?: string } } }).cause?.cause;
    return { type: cause?.type, message: cause?.message ?? String(err) };
  }
  assert.fail(`${deployId} succeeded`);
}

const handle = (deployId: string) => testEnv.client.workflow.getHandle(deployId);
const by = { by: 'bob' };

/**
 * Every status signal the canary sent its environment was delivered before the canary
 * completed: the server drops a signal still in flight when its sender completes (and the
 * time-skipping server then stops skipping time).
 */
async function assertToldEnvironment(deployId: string): Promise<void> {
  const types = ((await handle(deployId).fetchHistory()).events ?? []).map((e) => e.eventType);
  const { EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: SENT, EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED: SIGNALED } = temporal.api.enums.v1.EventType;
  const sent = types.filter((t) => t === SENT).length;
  assert.ok(sent >= 3, `the canary told its environment how it stands (${sent} signals)`);
  const closed = types.findIndex((t) => t === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  assert.ok(closed > 0, 'the canary completed');
  assert.equal(types.slice(0, closed).filter((t) => t === SIGNALED).length, sent, 'every status signal delivered before the canary completed');
}

/** The Update is refused by its validator: WorkflowUpdateFailedError whose cause says why. */
async function refused(p: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(err)}`);
    assert.match(causes(err), why);
    return true;
  });
}

/** What a test compares before and after something that must change nothing. */
const snapshot = async (world: FakeWorld, deployId: string) => {
  const s = await canaryStatus(deployId);
  return { serving: world.serving(), green: world.running('green'), blue: world.running('blue'), step: s.step, weight: s.weight, paused: s.paused, phase: s.phase };
};

/** Holds an activity (heartbeating, like a slow host) until the test releases it; `reached` once it is held. */
function gate(): { wait: () => Promise<void>; release: () => void; reached: Promise<void> } {
  let released = false;
  let reach!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  return {
    reached,
    release: () => void (released = true),
    async wait() {
      reach();
      while (!released) {
        Context.current().heartbeat();
        await Context.current().sleep(50);
      }
    },
  };
}

const withoutProgress = (st: EnvState) => st.recent.map((r) => ({ id: r.id, outcome: r.outcome }));

describe('canary deploy: steps and pauses', () => {
  test('1% → 5% → 25% → 100% on every host, measured every interval, old colour kept for rollback', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env, measured }) => {
      const plan = canaryPlan(env, canary(), { slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.color, 'green');
      assert.deepEqual(result.previous, { color: 'blue', version: 'v1' });
      for (const h of hosts) assert.deepEqual(weights(world, h), [1, 5, 25], `${h} took every step`);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.deepEqual(world.running('green'), ['v2', 'v2']);
      assert.deepEqual(world.running('blue'), ['v1', 'v1'], 'old colour kept for the teardown window');
      const per = (w: number) => measured.filter((m) => m.weight === w);
      assert.deepEqual([per(1).length, per(5).length, per(25).length], [4, 10, 20], 'one measurement per 30 s of each pause');
      assert.equal(measured.length, 34, 'nothing measured at 0% or after the switch');
      for (const w of [1, 5, 25]) {
        const at = per(w).map((m) => m.at);
        for (const [i, t] of at.slice(1).entries()) assert.ok(Math.abs(t - at[i]! - INTERVAL) < 2 * SECOND, `measurements at ${w}% ${t - at[i]!} ms apart`);
      }
      const stepTook = (a: number, b: number) => per(b)[0]!.at - per(a)[0]!.at;
      assert.ok(Math.abs(stepTook(1, 5) - 2 * MINUTE) < 5 * SECOND, `1% held ${stepTook(1, 5)} ms`);
      assert.ok(Math.abs(stepTook(5, 25) - 5 * MINUTE) < 5 * SECOND, `5% held ${stepTook(5, 25)} ms`);
      const state = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      assert.deepEqual(state.live, { color: 'green', version: 'v2', deployId: req.deployId });
      assert.deepEqual([state.previous?.color, state.previous?.version], ['blue', 'v1'], 'previous kept, so rollback is possible');
      assert.equal(state.recent[0]?.outcome, 'succeeded');
      assert.deepEqual([state.recent[0]?.canary?.phase, state.recent[0]?.canary?.weight], ['done', 100], 'the environment was told the canary finished');
      await assertToldEnvironment(req.deployId);
      const keys = world.slack.map((m) => m.key.split(':').pop());
      assert.deepEqual(keys, ['headline', 'started', 'weight-1', 'weight-5', 'weight-25', 'switched', 'done']);
      assert.match(world.slack.find((m) => m.key.endsWith(':weight-5'))!.text, /v2 takes 5% of the traffic/);
      const done = await canaryStatus(req.deployId);
      assert.deepEqual([done.phase, done.weight, done.step, done.steps], ['done', 100, 3, 4]);
    });
  });

  test('a last step without weight 100 still ends at 100%', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env, canary([{ weight: 10, pause: { durationMs: MINUTE } }])), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await childResult<DeployResult>(testEnv.client, req.deployId);
      await assertToldEnvironment(req.deployId);
      assert.deepEqual(weights(world), [10]);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.equal(measured.length, 2);
      const done = await canaryStatus(req.deployId);
      assert.deepEqual([done.phase, done.weight, done.steps], ['done', 100, 2]);
    });
  });

  test('a first deploy (nothing live) goes straight to 100% without measuring', async () => {
    const world = new FakeWorld(hosts);
    world.setMetric(METRIC, 'v1', PASSING);
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env), 'v1');
      await sendDeploy(testEnv.client, req, tq);
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.deepEqual([result.color, result.previous], ['blue', null]);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(weights(world), []);
      assert.equal(measured.length, 0);
    });
  });

  test("the environment's state shows the running canary's weight and step while it holds", async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const plan = canaryPlan(env);
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 5, 10 * SECOND);
      const st = await waitForState(testEnv.client, plan.app, env, (s) => s.running?.canary?.weight === 5 && s.running.canary.pauseEndsAt !== null);
      const now = await testEnv.currentTimeMs();
      const c = st.running!.canary!;
      assert.equal(st.running?.id, req.deployId);
      assert.deepEqual([c.step, c.steps, c.phase, c.paused, c.awaitingPromotion], [1, 4, 'progressing', false, false]);
      assert.ok(c.pauseEndsAt !== null && c.pauseEndsAt > now && c.pauseEndsAt <= now + 5 * MINUTE, `pause ends in ${(c.pauseEndsAt ?? 0) - now} ms`);
      assert.deepEqual(world.serving(), ['blue:v1+green:v2@5', 'blue:v1+green:v2@5']);
      await handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] });
      const paused = await waitForState(testEnv.client, plan.app, env, (s) => s.running?.canary?.paused === true);
      assert.equal(paused.running?.canary?.pauseEndsAt, null);
      await handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] });
      await childResult(testEnv.client, req.deployId);
      const after = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      assert.equal(after.running, null);
    });
  });
});

describe('canary deploy: analysis', () => {
  for (const [at, step] of [[1, 0], [5, 1], [25, 2]] as const) {
    test(`a breach at ${at}% puts every host back on the stable colour and stops the canary`, async () => {
      const world = blueV1();
      await withWorker(world, async ({ tq, env, measured }) => {
        // v2 live in green (blue-green), so the canary of v3 goes to blue with v2 as its stable.
        const bg = deployRequest(fakePlan(hosts, { env }), 'v2');
        await sendDeploy(testEnv.client, bg, tq);
        await childResult(testEnv.client, bg.deployId);
        const plan = canaryPlan(env, canary(), { slackChannel: '#deploys' });
        const req = deployRequest(plan, 'v3');
        await sendDeploy(testEnv.client, req, tq);
        await waitForCanary(req.deployId, (s) => s.weight === at, 10 * SECOND);
        assert.deepEqual(world.serving(), hosts.map(() => `green:v2+blue:v3@${at}`));
        world.setMetric(METRIC, 'v3', FAILING);
        const failure = await childFailure(req.deployId);
        assert.equal(failure.type, 'CanaryFailed');
        assert.match(failure.message, new RegExp(`deploy of v3 to shop/${env} failed - rolled back: analysis failed at ${at}%: error-rate = 0\\.2 \\(fail if > 0\\.01\\)`));
        assert.equal(measured.at(-1)?.weight, at, 'the failing measurement was at that step');
        assert.deepEqual(world.serving(), ['green:v2', 'green:v2'], 'every host back to 100% stable');
        assert.deepEqual(world.running('blue'), [null, null], 'canary slot stopped');
        assert.deepEqual(world.running('green'), ['v2', 'v2']);
        assert.equal(weights(world).at(-1), at, 'never went past that step');
        const st = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
        assert.equal(st.recent[0]?.outcome, 'failed');
        assert.match(st.recent[0]?.reason ?? '', /error-rate = 0\.2/);
        assert.deepEqual(st.live, { color: 'green', version: 'v2', deployId: bg.deployId }, 'live unchanged');
        const status = await canaryStatus(req.deployId);
        assert.deepEqual([status.phase, status.weight, status.step], ['aborting', 0, step]);
        assert.equal(status.lastMeasurements[0]?.verdict, 'fail');
        assert.ok(world.slack.some((m) => m.key.endsWith(':rolled-back') && /analysis failed/.test(m.text)));
      });
    });
  }

  test('failureLimit 2: failures that never come twice in a row do not abort', async () => {
    const world = blueV1();
    // Every other measurement fails.
    await withWorker(
      world,
      async ({ tq, env, measured }) => {
        const req = deployRequest(canaryPlan(env, canary(STEPS, { failureLimit: 2 })), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await childResult(testEnv.client, req.deployId);
        assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
        assert.equal(measured.length, 34);
        const analysed = (await handle(req.deployId).query(progressQuery)).filter((p) => p.step === 'analysis');
        assert.equal(analysed.filter((p) => p.message.endsWith('error-rate = 0.2 (fail if > 0.01): fail')).length, 17, 'every other measurement failed');
      },
      { beforeMeasure: (n) => world.setMetric(METRIC, 'v2', n % 2 === 1 ? FAILING : PASSING) },
    );
  });

  test('failureLimit 2: two failures in a row abort', async () => {
    const world = blueV1();
    // pass, fail, fail.
    await withWorker(
      world,
      async ({ tq, env, measured }) => {
        const req = deployRequest(canaryPlan(env, canary(STEPS, { failureLimit: 2 })), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        const failure = await childFailure(req.deployId);
        assert.equal(failure.type, 'CanaryFailed');
        assert.match(failure.message, /error-rate = 0\.2 \(fail if > 0\.01\).*2 failed measurement\(s\) in a row \(limit 2\)/);
        assert.equal(measured.length, 3);
        assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
        assert.deepEqual(world.running('green'), [null, null]);
      },
      { beforeMeasure: (n) => world.setMetric(METRIC, 'v2', n === 0 ? PASSING : FAILING) },
    );
  });

  for (const [what, breakIt, detail] of [
    ['Prometheus is down', (w: FakeWorld) => void (w.prometheusDown = true), /Prometheus unreachable/],
    ['the canary version has no series', (w: FakeWorld) => w.metrics.get(METRIC)?.delete('v2'), /query returned no series/],
  ] as const) {
    test(`inconclusive (${what}): aborts after inconclusiveLimit measurements in a row`, async () => {
      const world = blueV1();
      breakIt(world);
      await withWorker(world, async ({ tq, env, measured }) => {
        const plan = canaryPlan(env);
        const req = deployRequest(plan, 'v2');
        await sendDeploy(testEnv.client, req, tq);
        const failure = await childFailure(req.deployId);
        assert.equal(failure.type, 'CanaryFailed');
        assert.match(failure.message, /analysis failed at 1%: error-rate inconclusive 3 time\(s\) in a row \(limit 3\)/);
        assert.match(failure.message, detail);
        assert.equal(measured.length, 3);
        assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
        assert.deepEqual(world.running('green'), [null, null]);
        const st = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
        assert.equal(st.recent[0]?.outcome, 'failed');
        assert.equal(st.live, null);
      });
    });
  }

  test('fewer inconclusive measurements than the limit, then a pass, go on', async () => {
    const world = blueV1();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const req = deployRequest(canaryPlan(env), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await childResult(testEnv.client, req.deployId);
        assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
        const analysed = (await handle(req.deployId).query(progressQuery)).filter((p) => p.step === 'analysis');
        assert.deepEqual(analysed.slice(0, 6).map((p) => p.message.split(': ').pop()), ['inconclusive', 'inconclusive', 'pass', 'inconclusive', 'inconclusive', 'pass']);
      },
      // Two inconclusive, one pass, two inconclusive, then fine.
      { beforeMeasure: (n) => void (world.prometheusDown = [0, 1, 3, 4].includes(n)) },
    );
  });

  test('an HTTP metric fails the canary when its slot stops answering 200', async () => {
    const world = blueV1();
    const strategy = canary(STEPS, { metrics: [{ kind: 'http', name: 'canary-up', url: 'http://{{address}}:{{port}}/health', expectStatus: 200, timeoutMs: 500 }] });
    await withWorker(world, async ({ tq, env }) => {
      const req = deployRequest(canaryPlan(env, strategy), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 5, 10 * SECOND);
      assert.ok(world.events.filter((e) => e.op === 'probe').length >= 2 * 4, 'probed on both hosts at 1%');
      world.unhealthy.add('v2');
      const failure = await childFailure(req.deployId);
      assert.equal(failure.type, 'CanaryFailed');
      assert.match(failure.message, /analysis failed at 5%: canary-up = 500 \(HTTP 200 on every host\)/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
    });
  });

  test('verification failing after the switch to 100% puts every host back', async () => {
    const world = blueV1();
    world.failVerify.add('v2');
    await withWorker(world, async ({ tq, env }) => {
      const req = deployRequest(canaryPlan(env, canary([{ weight: 10, pause: { durationMs: MINUTE } }])), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const failure = await childFailure(req.deployId);
      assert.equal(failure.type, 'DeployFailed');
      assert.match(failure.message, /answers through nginx were not v2/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
    });
  });

  test('nginx refusing the canary weight on the second host puts the first one back', async () => {
    const world = blueV1();
    world.refuseConfig.add('web2');
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const failure = await childFailure(req.deployId);
      assert.equal(failure.type, 'DeployFailed');
      assert.match(failure.message, /web2: nginx refused the new config/);
      assert.deepEqual(weights(world, 'web1'), [1]);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
      assert.equal(measured.length, 0);
    });
  });
});

describe('canary deploy: promote, pause, resume, abort', () => {
  test('promote skips the current pause', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 1);
      const accepted = await handle(req.deployId).executeUpdate(promoteUpdate, { args: [by] });
      assert.equal(accepted.weight, 1);
      // In real time (no skipping): far less than the 2 minutes of the pause.
      const s = await waitForCanary(req.deployId, (c) => c.weight === 5);
      assert.equal(s.step, 1);
      assert.equal(measured.filter((m) => m.weight === 1).length, 0, 'the 1% pause was cut short');
      const progress = await handle(req.deployId).query(progressQuery);
      assert.ok(progress.some((p) => p.step === 'promoted' && p.message === 'promoted past step 1 by bob'), 'the journal says who promoted');
      assert.deepEqual(world.serving(), ['blue:v1+green:v2@5', 'blue:v1+green:v2@5']);
      await childResult(testEnv.client, req.deployId);
      assert.deepEqual(weights(world), [1, 5, 25]);
      assert.equal(measured.filter((m) => m.weight === 5).length, 10, 'the next pause is whole');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
    });
  });

  test('promote --full goes to 100% at once', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 1);
      await handle(req.deployId).executeUpdate(promoteUpdate, { args: [{ full: true, by: 'bob' }] });
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.color, 'green');
      assert.deepEqual(weights(world), [1], 'no 5% or 25% step');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.equal(measured.length, 0);
    });
  });

  test('a pause without a duration waits for promote, however long', async () => {
    const world = blueV1();
    const strategy = canary([{ weight: 10, pause: {} }, { weight: 100 }], { intervalMs: 10 * MINUTE });
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env, strategy), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 10 && s.awaitingPromotion);
      await testEnv.sleep(3 * HOUR);
      const s = await canaryStatus(req.deployId);
      assert.deepEqual([s.weight, s.step, s.awaitingPromotion, s.pauseEndsAt, s.phase], [10, 0, true, null, 'progressing']);
      assert.deepEqual(world.serving(), ['blue:v1+green:v2@10', 'blue:v1+green:v2@10']);
      assert.ok(measured.length >= 17, `still measuring while it waits (${measured.length})`);
      await handle(req.deployId).executeUpdate(promoteUpdate, { args: [by] });
      await childResult(testEnv.client, req.deployId);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
    });
  });

  test('pause holds the step past its duration; resume goes on with the time that was left', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env, measured }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      // Pause 75 s into the 2-minute step at 1%, halfway between two measurements.
      await waitForCanary(req.deployId, () => measured.length >= 2, 5 * SECOND);
      const stepStart = measured[0]!.at - INTERVAL;
      await testEnv.sleep(stepStart + 75 * SECOND - (await testEnv.currentTimeMs()));
      await handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] });
      const pausedAt = await testEnv.currentTimeMs();
      const left = stepStart + 2 * MINUTE - pausedAt;
      await testEnv.sleep(10 * MINUTE);
      const s = await canaryStatus(req.deployId);
      assert.deepEqual([s.weight, s.step, s.paused, s.pauseEndsAt], [1, 0, true, null]);
      assert.deepEqual(world.serving(), ['blue:v1+green:v2@1', 'blue:v1+green:v2@1']);
      assert.ok(measured.length >= 2 + 19, `still measuring while paused (${measured.length})`);
      await handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] });
      const resumedAt = await testEnv.currentTimeMs();
      const at5 = await waitForCanary(req.deployId, (c) => c.weight === 5, 5 * SECOND);
      const took = (await testEnv.currentTimeMs()) - resumedAt;
      assert.equal(at5.paused, false);
      assert.ok(took >= left - SECOND && took <= left + 6 * SECOND, `went on ${took} ms after resume; ${left} ms of the pause were left`);
      await childResult(testEnv.client, req.deployId);
      assert.deepEqual(weights(world), [1, 5, 25]);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      const progress = (await handle(req.deployId).query(progressQuery)).map((p) => p.message);
      assert.ok(progress.includes('paused at 1% by bob') && progress.includes('resumed at 1% by bob'), 'the journal says who paused and resumed');
    });
  });

  test('promote while paused by hand lets the canary go on', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 1);
      await handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] });
      const accepted = await handle(req.deployId).executeUpdate(promoteUpdate, { args: [by] });
      assert.equal(accepted.paused, false);
      const s = await waitForCanary(req.deployId, (c) => c.weight === 5);
      assert.deepEqual([s.step, s.paused], [1, false]);
      await childResult(testEnv.client, req.deployId);
      assert.deepEqual(weights(world), [1, 5, 25]);
    });
  });

  for (const [when, held] of [
    ['the hosts are read', 'readRouter'],
    ['the new version starts', 'replaceSlot'],
  ] as const) {
    test(`abort while ${when}: nothing is shifted and the canary slot ends stopped`, async () => {
      const world = blueV1();
      const hold = gate();
      await withWorker(
        world,
        async ({ tq, env }) => {
          const req = deployRequest(canaryPlan(env), 'v2');
          await sendDeploy(testEnv.client, req, tq);
          await hold.reached;
          await canaryStatus(req.deployId); // the controls answer from the start
          await handle(req.deployId).executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'wrong build' }] });
          hold.release();
          const failure = await childFailure(req.deployId);
          assert.equal(failure.type, 'CanaryAborted');
          assert.match(failure.message, /aborted by bob: wrong build/);
          assert.deepEqual(weights(world), []);
          assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
          assert.deepEqual(world.running('green'), [null, null]);
          assert.deepEqual(world.running('blue'), ['v1', 'v1']);
          if (held === 'readRouter') assert.equal(world.events.filter((e) => e.op === 'start').length, 0, 'aborted before anything started');
        },
        {
          activities: (a) => ({
            ...a,
            async [held](input: never) {
              await hold.wait();
              return (a[held] as (i: never) => Promise<unknown>)(input);
            },
          }),
        },
      );
    });
  }

  test('abort rolls every host back to the stable colour', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const plan = canaryPlan(env, canary(), { slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 5, 10 * SECOND);
      await handle(req.deployId).executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'p99 looks wrong' }] });
      const failure = await childFailure(req.deployId);
      assert.equal(failure.type, 'CanaryAborted');
      assert.match(failure.message, /rolled back: aborted by bob: p99 looks wrong/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
      assert.deepEqual(world.running('blue'), ['v1', 'v1']);
      const st = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      assert.equal(st.recent[0]?.outcome, 'failed');
      assert.equal(st.live, null);
      assert.ok(world.slack.some((m) => m.key.endsWith(':rolled-back') && /aborted by bob/.test(m.text)));
    });
  });

  test('resume when not paused, pause twice and promote while starting are refused and change nothing', async () => {
    const world = blueV1();
    const started = gate();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const req = deployRequest(canaryPlan(env), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await started.reached;
        await refused(handle(req.deployId).executeUpdate(promoteUpdate, { args: [by] }), /nothing to promote yet: the canary is still starting/);
        started.release();
        await waitForCanary(req.deployId, (s) => s.weight === 1);
        const before = await snapshot(world, req.deployId);
        await refused(handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] }), /the canary is not paused/);
        assert.deepEqual(await snapshot(world, req.deployId), before);
        await handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] });
        const paused = await snapshot(world, req.deployId);
        assert.equal(paused.paused, true);
        await refused(handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] }), /the canary is already paused/);
        assert.deepEqual(await snapshot(world, req.deployId), paused);
        await handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] });
        await childResult(testEnv.client, req.deployId);
        assert.deepEqual(weights(world), [1, 5, 25]);
      },
      {
        activities: (a) => ({
          ...a,
          async replaceSlot(input) {
            await started.wait();
            return a.replaceSlot(input);
          },
        }),
      },
    );
  });

  test('an Update that does not say who asks, or with an oversized reason, is refused and changes nothing', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const req = deployRequest(canaryPlan(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 1);
      const before = await snapshot(world, req.deployId);
      await refused(handle(req.deployId).executeUpdate(abortUpdate, { args: [{ by: '' }] }), /by: say who asks/);
      await refused(handle(req.deployId).executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'x'.repeat(501) }] }), /reason: at most 500 characters/);
      await refused(handle(req.deployId).executeUpdate(pauseUpdate, { args: [{} as { by: string }] }), /by: say who asks/);
      assert.deepEqual(await snapshot(world, req.deployId), before);
      await childResult(testEnv.client, req.deployId);
      assert.deepEqual(weights(world), [1, 5, 25], 'the canary went on as if nothing was asked');
    });
  });

  test('paused by hand at a step without a pause and resumed before an interval passed: it measures once and goes on', async () => {
    const world = blueV1();
    const shifting = gate();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const req = deployRequest(canaryPlan(env, canary([{ weight: 5 }, { weight: 25, pause: { durationMs: 60_000 } }])), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await shifting.reached;
        await handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] });
        shifting.release();
        await waitForCanary(req.deployId, (s) => s.weight === 5 && s.paused);
        await handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] });
        await childResult(testEnv.client, req.deployId);
        assert.deepEqual(weights(world), [5, 25]);
        assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      },
      {
        activities: (a) => ({
          ...a,
          async switchRouter(input) {
            if (input.canary?.weight === 5) await shifting.wait();
            return a.switchRouter(input);
          },
        }),
      },
    );
  });

  test('promote, pause, resume and abort are refused while the canary rolls back', async () => {
    const world = blueV1();
    const restore = gate();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const req = deployRequest(canaryPlan(env), 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await waitForCanary(req.deployId, (s) => s.weight === 1);
        world.setMetric(METRIC, 'v2', FAILING);
        await waitForCanary(req.deployId, (s) => s.phase === 'aborting', 2 * SECOND);
        await restore.reached;
        const before = await snapshot(world, req.deployId);
        assert.deepEqual(before.serving, ['blue:v1+green:v2@1', 'blue:v1+green:v2@1'], 'the restore is held');
        await refused(handle(req.deployId).executeUpdate(promoteUpdate, { args: [{ full: true, by: 'bob' }] }), /nothing to promote: the canary is being rolled back/);
        await refused(handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] }), /cannot pause: the canary is being rolled back/);
        await refused(handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] }), /cannot resume: the canary is being rolled back/);
        await refused(handle(req.deployId).executeUpdate(abortUpdate, { args: [by] }), /cannot abort: the canary is being rolled back/);
        assert.deepEqual(await snapshot(world, req.deployId), before);
        restore.release();
        const failure = await childFailure(req.deployId);
        assert.equal(failure.type, 'CanaryFailed');
        assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
        assert.deepEqual(world.running('green'), [null, null]);
      },
      {
        activities: (a) => ({
          ...a,
          async switchRouter(input) {
            if (!input.canary && input.color === 'blue') await restore.wait();
            return a.switchRouter(input);
          },
        }),
      },
    );
  });

  test('promote, pause, resume and abort are refused once the canary is at 100%, and after it finished', async () => {
    const world = blueV1();
    const done = gate();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const plan = canaryPlan(env, canary([{ weight: 10, pause: { durationMs: MINUTE } }]), { slackChannel: '#deploys' });
        const req = deployRequest(plan, 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await waitForCanary(req.deployId, (c) => c.phase === 'done', 2 * SECOND); // small steps: the server skips no time while the post is held
        await done.reached; // the canary is at 100% and posts "done"
        const before = await snapshot(world, req.deployId);
        assert.deepEqual([before.phase, before.weight, before.serving], ['done', 100, ['green:v2', 'green:v2']]);
        await refused(handle(req.deployId).executeUpdate(promoteUpdate, { args: [{ full: true, by: 'bob' }] }), /nothing to promote: the canary is already at 100%/);
        await refused(handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] }), /cannot pause: the canary is already at 100%/);
        await refused(handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] }), /cannot resume: the canary is already at 100%/);
        await refused(handle(req.deployId).executeUpdate(abortUpdate, { args: [by] }), /cannot abort: the canary is already at 100%; use cutover rollback/);
        assert.deepEqual(await snapshot(world, req.deployId), before);
        done.release();
        await childResult(testEnv.client, req.deployId);
        const st = await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
        const events = world.events.length;
        for (const send of [
          () => handle(req.deployId).executeUpdate(promoteUpdate, { args: [{ full: true, by: 'bob' }] }),
          () => handle(req.deployId).executeUpdate(pauseUpdate, { args: [by] }),
          () => handle(req.deployId).executeUpdate(resumeUpdate, { args: [by] }),
          () => handle(req.deployId).executeUpdate(abortUpdate, { args: [by] }),
        ]) {
          // The server answers for a closed workflow (the test server: "update ... not found").
          await assert.rejects(send(), (err: Error) => err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError);
        }
        assert.equal(world.events.length, events, 'nothing was done on the hosts');
        assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
        assert.deepEqual(world.running('blue'), ['v1', 'v1']);
        const after = await envState(testEnv.client, plan.app, env);
        assert.deepEqual([after.live, after.previous, withoutProgress(after)], [st.live, st.previous, withoutProgress(st)]);
      },
      {
        activities: (a) => ({
          ...a,
          async slackPost(input) {
            if (input.key.endsWith(':done')) await done.wait();
            return a.slackPost(input);
          },
        }),
      },
    );
  });
});

describe('canary deploy in its environment', () => {
  test('rollback in the teardown window after a canary switches every host back and stops the canary colour', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const plan = canaryPlan(env);
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await childResult(testEnv.client, req.deployId);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      await assertToldEnvironment(req.deployId);
      await testEnv.sleep(10 * MINUTE);
      const rb = rollbackRequest(plan, 'rb-1');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.deepEqual([result.color, result.version, result.cancelledDeploy], ['blue', 'v1', undefined]);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null], 'the canary colour is stopped');
      assert.equal(world.events.filter((e) => e.op === 'start' && e.color === 'blue').length, 0, 'nothing started');
      await testEnv.sleep(2 * HOUR);
      assert.deepEqual(world.running('blue'), ['v1', 'v1'], 'the dropped teardown never stops the live colour');
      const st = await envState(testEnv.client, plan.app, env);
      assert.deepEqual([st.live?.color, st.live?.version, st.previous], ['blue', 'v1', null]);
    });
  });

  test('a rollback while the canary runs cancels it and every host ends on the stable colour', async () => {
    const world = blueV1();
    await withWorker(world, async ({ tq, env }) => {
      const plan = canaryPlan(env);
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForCanary(req.deployId, (s) => s.weight === 5, 10 * SECOND);
      const rb = rollbackRequest(plan, 'rb-now');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.deepEqual([result.cancelledDeploy, result.color, result.version], [req.deployId, 'blue', 'v1']);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
      const st = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.recent.length >= 2);
      const cancelled = st.recent.find((r) => r.id === req.deployId);
      assert.equal(cancelled?.outcome, 'cancelled');
      assert.deepEqual([cancelled?.canary?.phase, cancelled?.canary?.weight], ['aborting', 5], 'the cancelled canary still told its environment it rolls back, and from where');
      assert.equal(st.live, null);
    });
  });

  test('a rollback during a measurement cancels the canary, not fails it', async () => {
    const world = blueV1();
    const measuring = gate();
    await withWorker(
      world,
      async ({ tq, env }) => {
        const plan = canaryPlan(env, canary(STEPS, { inconclusiveLimit: 1 }));
        const req = deployRequest(plan, 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await waitForCanary(req.deployId, (s) => s.weight === 1);
        await testEnv.sleep(INTERVAL); // the first measurement starts and hangs
        await measuring.reached;
        const rb = rollbackRequest(plan, 'rb-mid-measure');
        await sendRollback(testEnv.client, rb, tq);
        const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
        assert.equal(result.cancelledDeploy, req.deployId);
        assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
        assert.deepEqual(world.running('green'), [null, null]);
        const st = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.recent.length >= 2);
        assert.equal(st.recent.find((r) => r.id === req.deployId)?.outcome, 'cancelled');
      },
      { beforeMeasure: () => measuring.wait() },
    );
  });

  for (const kind of ['blueGreen', 'canary'] as const) {
    test(`a ${kind} deploy queued behind a canary waits, then goes into the canary's stable colour with no stale timer`, async () => {
      const world = blueV1();
      await withWorker(world, async ({ tq, env }) => {
        const plan = canaryPlan(env);
        const first = deployRequest(plan, 'v2');
        await sendDeploy(testEnv.client, first, tq);
        await waitForCanary(first.deployId, (s) => s.weight === 1);
        // The queued canary pauses 30 minutes, so the first canary's old timer (if any) would fire before the right one.
        const strategy = kind === 'canary' ? canary([{ weight: 50, pause: { durationMs: 30 * MINUTE } }], { intervalMs: 5 * MINUTE }) : ({ kind: 'blueGreen' } as const);
        const second = deployRequest(fakePlan(hosts, { env, strategy }), 'v3');
        await sendDeploy(testEnv.client, second, tq);
        const waiting = await waitForState(testEnv.client, plan.app, env, (s) => s.running?.id === first.deployId && s.queue.length === 1);
        assert.equal(waiting.queue[0]?.id, second.deployId);
        assert.equal(world.events.filter((e) => e.version === 'v3').length, 0, 'v3 waits its turn');
        await handle(first.deployId).executeUpdate(promoteUpdate, { args: [{ full: true, by: 'bob' }] });
        const firstDone = (await waitForState(testEnv.client, plan.app, env, (s) => s.recent.some((r) => r.id === first.deployId))).recent.find((r) => r.id === first.deployId)!.at;
        const result = await childResult<DeployResult>(testEnv.client, second.deployId);
        assert.equal(result.color, 'blue', "v3 goes into the slot the canary's stable (v1) was waiting in");
        assert.deepEqual(result.previous, { color: 'green', version: 'v2' });
        assert.deepEqual(world.serving(), ['blue:v3', 'blue:v3']);
        assert.deepEqual(world.running('green'), ['v2', 'v2'], 'the canary (now live) was never stopped');
        const st = await waitForState(testEnv.client, plan.app, env, deployFinished(second.deployId));
        const secondDone = st.previous!.teardownAt - HOUR;
        // Past the hour after the first canary: its timer was dropped with v1.
        await testEnv.sleep(firstDone + HOUR + 2 * MINUTE - (await testEnv.currentTimeMs()));
        assert.deepEqual(world.running('blue'), ['v3', 'v3']);
        if (secondDone - firstDone > 5 * MINUTE) {
          assert.deepEqual(world.running('green'), ['v2', 'v2'], 'v2 kept for the full hour after v3');
          assert.equal((await envState(testEnv.client, plan.app, env)).recent.filter((r) => r.kind === 'teardown').length, 0, 'no stale teardown ran');
        }
        await testEnv.sleep(secondDone + HOUR + 2 * MINUTE - (await testEnv.currentTimeMs()));
        const end = await waitForState(testEnv.client, plan.app, env, (s) => s.previous === null && s.running === null);
        assert.deepEqual(world.running('green'), [null, null], "v2 stopped an hour after v3");
        assert.deepEqual(world.running('blue'), ['v3', 'v3']);
        assert.deepEqual(end.recent.filter((r) => r.kind === 'teardown').map((r) => [r.version, r.outcome]), [['v2', 'succeeded']]);
      });
    });
  }

  test('a worker restart while the canary holds at 5%: the new worker carries it on to 100%', async () => {
    const world = blueV1();
    const measured: Measured[] = [];
    const taskQueue = `canary-${++queueNo}`;
    const env = `env${queueNo}`;
    testEnv = await startTimeSkipping();
    try {
      const plan = canaryPlan(env);
      const req = deployRequest(plan, 'v2');
      // The first worker keeps no workflow cache: the time-skipping server would hand the next
      // task to its sticky queue and never move it to the normal one once that worker is gone.
      const worker = async (cache = true) =>
        Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities: activitiesOf(world, measured), ...(cache ? {} : { maxCachedWorkflows: 0 }) });
      const first = await worker(false);
      await first.runUntil(async () => {
        await sendDeploy(testEnv.client, req, taskQueue);
        await waitForCanary(req.deployId, () => measured.some((m) => m.weight === 5), 10 * SECOND);
      });
      assert.equal(first.getState(), 'STOPPED');
      const second = await worker();
      const result = await second.runUntil(childResult<DeployResult>(testEnv.client, req.deployId));
      assert.equal(result.color, 'green');
      for (const h of hosts) assert.deepEqual(weights(world, h), [1, 5, 25], `${h} went on from 5%, not from the start`);
      assert.deepEqual([1, 5, 25].map((w) => measured.filter((m) => m.weight === w).length), [4, 10, 20], 'no measurement lost or repeated');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.equal(world.events.filter((e) => e.op === 'start').length, hosts.length, 'started once per host');
    } finally {
      await testEnv.teardown();
    }
  });
});
