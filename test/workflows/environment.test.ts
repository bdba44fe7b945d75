// Workflow logic on the time-skipping test server, with the host activities replaced by an
// in-memory model of the hosts (FakeWorld). Hours of teardown delay are skipped, not waited.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateStage, type WorkflowUpdateHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { rollbackTrafficUpdate, type DeployResult, type EnvState, type RollbackResult, type RollbackTraffic } from '../../contract';
import { childResult, envState, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

/**
 * Run `fn` with a worker whose activities act on `world`. Each test gets its own time-skipping
 * server: timers a finished test leaves behind must not hold time still for the next one.
 */
async function withWorker<T>(world: FakeWorld, fn: (taskQueue: string, env: string) => Promise<T>, activities = world.activities()): Promise<T> {
  const taskQueue = `test-${++queueNo}`;
  testEnv = await startTimeSkipping();
  try {
    const worker = await Worker.create({
      connection: testEnv.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities,
    });
    return await worker.runUntil(fn(taskQueue, `env${queueNo}`));
  } finally {
    await testEnv.teardown();
  }
}

const hosts = ['web1', 'web2'];

/**
 * Wait for an operation through the state query where a test then relies on timers not having
 * fired: awaiting a workflow result unlocks time skipping, and the server may jump past them.
 */
const deployFinished = (id: string) => (st: EnvState) => st.running === null && st.recent.some((op) => op.id === id);

/** What `rollback --wait` waits for: the rollback's traffic Update, accepted once its workflow exists. */
async function trafficUpdate(rollbackId: string): Promise<WorkflowUpdateHandle<RollbackTraffic>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await testEnv.client.workflow.getHandle(rollbackId).describe();
      return await testEnv.client.workflow.getHandle(rollbackId).startUpdate(rollbackTrafficUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const trafficAnswer = async (rollbackId: string): Promise<RollbackTraffic> => (await trafficUpdate(rollbackId)).result();

describe('blue-green deploy through the environment workflow', () => {
  test('happy path: v2 goes to the idle colour on every host, v1 stays alive for rollback', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env, slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.color, 'green');
      assert.deepEqual(result.previous, { color: 'blue', version: 'v1' });
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.deepEqual(world.running('green'), ['v2', 'v2']);
      assert.deepEqual(world.running('blue'), ['v1', 'v1'], 'old colour kept for rollback');
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null);
      assert.equal(state.live?.version, 'v2');
      assert.equal(state.previous?.color, 'blue');
      assert.deepEqual(
        world.slack.map((m) => m.key.split(':').pop()),
        ['headline', 'started', 'switched', 'done'],
        'one thread: headline, then started, switched, done',
      );
    });
  });

  test('the old colour is stopped exactly after the teardown delay (60 minutes skipped)', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      const { previous } = await waitForState(testEnv.client, plan.app, env, (s) => s.previous !== null);
      const deployedAt = (previous?.teardownAt ?? 0) - HOUR;

      await testEnv.sleep(59 * MINUTE);
      assert.deepEqual(world.running('blue'), ['v1', 'v1'], 'still alive at 59 minutes');
      await testEnv.sleep(2 * MINUTE);
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.previous === null && s.running === null);
      assert.deepEqual(world.running('blue'), [null, null], 'stopped after 60 minutes');
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'the live colour is untouched');
      const teardown = state.recent.find((r) => r.kind === 'teardown');
      assert.equal(teardown?.outcome, 'succeeded');
      assert.ok(teardown && teardown.at - deployedAt >= HOUR && teardown.at - deployedAt < HOUR + 2 * MINUTE, `teardown at +${teardown && (teardown.at - deployedAt) / MINUTE} min`);
    });
  });

  test('health failure: the new slot is stopped and the live colour is untouched', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.unhealthy.add('v2');
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env, slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /v2.*failed - rolled back: web\d: green \(v2\) failed its health check/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('blue'), ['v1', 'v1']);
      assert.deepEqual(world.running('green'), [null, null], 'new slot stopped');
      assert.equal(world.events.filter((e) => e.op === 'switch').length, 0, 'no router touched');
      assert.ok(world.slack.some((m) => m.text.includes('deploy failed - rolled back')));
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.recent.length > 0);
      assert.equal(state.recent[0]?.outcome, 'failed');
      assert.equal(state.previous, null);
    });
  });

  test('a version missing on one host is refused before any slot or router is touched', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.notInstalled.add('web2/v9');
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env, slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v9');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: Error) => {
        // childResult wraps the WorkflowFailedError, whose cause is the workflow's own failure.
        const cause = (err as { cause?: { cause?: { type?: string; message?: string } } }).cause?.cause;
        assert.equal(cause?.type, 'VersionNotInstalled');
        assert.match(cause?.message ?? '', /version v9 is not installed on web2 \(slots.installed: exit 3: .*\); nothing was changed/);
        return true;
      });
      assert.deepEqual(world.events.map((e) => e.op).sort(), ['check', 'check']);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('blue'), ['v1', 'v1']);
      assert.equal(world.slack.length, 1, 'one message: the refusal');
      assert.match(world.slack[0]!.text, /^:no_entry: shop\/env\d+: deploy of v9 by alice refused: version v9 is not installed on web2 .*; nothing was changed/);
    });
  });

  test('nginx refusing the config on the second host puts the first host back', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.refuseConfig.add('web2');
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /failed - rolled back/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
    });
  });

  test('verification failure after the switch switches every host back', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.failVerify.add('v2');
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /answers through nginx were not v2/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('blue'), ['v1', 'v1']);
      assert.deepEqual(world.running('green'), [null, null]);
    });
  });

  test('rollback inside the window switches back at once and cancels the teardown', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      await testEnv.sleep(10 * MINUTE);
      const rb = rollbackRequest(plan, 'rb-1');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.deepEqual([result.color, result.version], ['blue', 'v1']);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.equal(world.events.filter((e) => e.op === 'start' && e.color === 'blue').length, 0, 'nothing started');
      assert.equal(world.events.filter((e) => e.op === 'health' && e.color === 'blue').length, 0, 'no health wait');
      assert.deepEqual(world.running('green'), [null, null], 'rolled-back colour stopped');
      await testEnv.sleep(2 * HOUR);
      assert.deepEqual(world.running('blue'), ['v1', 'v1'], 'the cancelled teardown never stops the live colour');
      const state = await envState(testEnv.client, plan.app, env);
      assert.equal(state.live?.version, 'v1');
      assert.equal(state.previous, null);
    });
  });

  test('rollback answers its traffic Update once every host is back and verified, before the rolled-back colour is stopped', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const activities = world.activities();
    // The stop of the rolled-back colour waits until the test has its answer.
    let release = (): void => undefined;
    const released = new Promise<void>((r) => (release = r));
    let rollingBack = false;
    const stopSlot: typeof activities.stopSlot = async (input) => {
      if (rollingBack && input.color === 'green') await released;
      return activities.stopSlot(input);
    };
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      rollingBack = true;
      const rb = rollbackRequest(plan, 'rb-answer');
      await sendRollback(testEnv.client, rb, tq);
      const traffic = await trafficAnswer(rb.rollbackId);
      assert.equal(traffic.verified, true);
      assert.deepEqual(traffic.verified && [traffic.result.color, traffic.result.version], ['blue', 'v1']);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'answered before the rolled-back colour is stopped');
      release();
      await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.deepEqual(world.running('green'), [null, null], 'then it is stopped');
    }, { ...activities, stopSlot });
  });

  test('a rollback whose verification fails answers verified: false (RollbackFailed) and keeps the rolled-back colour', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const activities = world.activities();
    // Verification waits until the Update is in, so the answer cannot come after the rollback ended.
    let release = (): void => undefined;
    const released = new Promise<void>((r) => (release = r));
    const verifyRouter: typeof activities.verifyRouter = async (input) => {
      if (input.version === 'v1') await released;
      return activities.verifyRouter(input);
    };
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      world.failVerify.add('v1');
      const rb = rollbackRequest(plan, 'rb-unverified');
      await sendRollback(testEnv.client, rb, tq);
      const update = await trafficUpdate(rb.rollbackId);
      release();
      const traffic = await update.result();
      assert.equal(traffic.verified, false);
      assert.equal(!traffic.verified && traffic.failureType, 'RollbackFailed');
      assert.match(!traffic.verified ? traffic.reason : '', /traffic is back on blue but it does not answer as v1; green kept running/);
      await assert.rejects(childResult(testEnv.client, rb.rollbackId), /does not answer as v1/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'the rolled-back colour is kept');
    }, { ...activities, verifyRouter });
  });

  test('rollback with nothing alive to roll back to fails with a clear reason', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const rb = rollbackRequest(plan, 'rb-none');
      await sendRollback(testEnv.client, rb, tq);
      await assert.rejects(childResult(testEnv.client, rb.rollbackId), /nothing to roll back/);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
    });
  });

  test('a deploy inside the teardown window reuses the old slot and leaves no stale timer', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const first = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, first, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(first.deployId));
      await testEnv.sleep(30 * MINUTE);
      const second = deployRequest(plan, 'v3');
      await sendDeploy(testEnv.client, second, tq);
      const st = await waitForState(testEnv.client, plan.app, env, deployFinished(second.deployId));
      assert.equal(st.live?.color, 'blue', 'v3 goes into the slot v1 was waiting in');
      assert.deepEqual(world.serving(), ['blue:v3', 'blue:v3']);
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'the live colour (v2) was never stopped');
      // The first deploy's timer would have fired 30 minutes from now; it must not stop v3.
      await testEnv.sleep(40 * MINUTE);
      assert.deepEqual(world.running('blue'), ['v3', 'v3']);
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'v2 kept for the full hour after v3');
      await testEnv.sleep(25 * MINUTE);
      await waitForState(testEnv.client, plan.app, env, (s) => s.previous === null && s.running === null);
      assert.deepEqual(world.running('green'), [null, null]);
      assert.deepEqual(world.running('blue'), ['v3', 'v3']);
    });
  });

  test('two concurrent deploys are serialised: the second waits its turn', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    world.beforeStart = async (_host, version) => {
      if (version === 'v2') await gate;
    };
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const a = deployRequest(plan, 'v2');
      const b = deployRequest(plan, 'v3');
      await sendDeploy(testEnv.client, a, tq);
      await sendDeploy(testEnv.client, b, tq);
      const waiting = await waitForState(testEnv.client, plan.app, env, (s) => s.running?.id === a.deployId && s.queue.length === 1);
      assert.equal(waiting.queue[0]?.id, b.deployId);
      release();
      await childResult(testEnv.client, a.deployId);
      const rb = await childResult<DeployResult>(testEnv.client, b.deployId);
      assert.equal(rb.color, 'blue');
      const firstOfB = world.events.findIndex((e) => e.version === 'v3');
      const lastOfA = world.events.map((e) => e.version).lastIndexOf('v2');
      assert.ok(lastOfA < firstOfB, 'every step of v2 happened before any step of v3');
      assert.deepEqual(world.serving(), ['blue:v3', 'blue:v3']);
    });
  });

  test('a rollback while a deploy runs cancels it and the live colour keeps serving', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    let started!: () => void;
    const startedOnce = new Promise<void>((r) => (started = r));
    world.beforeStart = async () => {
      started();
      for (;;) {
        // The start hangs until the deploy is cancelled (delivered through the heartbeat).
        Context.current().heartbeat();
        await Context.current().sleep(100);
      }
    };
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await startedOnce;
      const rb = rollbackRequest(plan, 'rb-emergency');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.equal(result.cancelledDeploy, req.deployId);
      assert.deepEqual([result.color, result.version], ['blue', 'v1']);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null], 'the cancelled deploy cleaned up its slot');
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.recent.length >= 2);
      assert.equal(state.recent.find((r) => r.id === req.deployId)?.outcome, 'cancelled');
      assert.equal(state.live, null, 'nothing was deployed by cutover yet; the hosts still serve v1');
    });
  });

  test('a retried trigger reaches the same run instead of deploying twice', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = deployRequest(plan, 'v2', 'gitlab-4711');
      await sendDeploy(testEnv.client, req, tq);
      await sendDeploy(testEnv.client, req, tq);
      await childResult(testEnv.client, req.deployId);
      await sendDeploy(testEnv.client, req, tq); // the CI job retried after the deploy finished
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.queue.length === 0);
      assert.equal(state.recent.filter((r) => r.id === req.deployId).length, 1);
      assert.equal(world.events.filter((e) => e.op === 'start').length, hosts.length, 'started once per host');
    });
  });

  test('a request with a version that could reach a shell is rejected before anything runs', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env });
      const req = { ...deployRequest(plan, 'v2'), version: 'v2;touch /tmp/pwned' };
      await sendDeploy(testEnv.client, req, tq);
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.rejected.length > 0);
      assert.match(state.rejected[0]?.reason ?? '', /version/);
      assert.equal(world.events.length, 0);
    });
  });
});

describe('refused before anything changed: the failure type tells the CLI (exit 4)', () => {
  /** The deploy's failure: its type, the first ApplicationFailure type in its chain, and its message. */
  async function failureOf(tq: string, env: string, world: FakeWorld): Promise<{ type?: string; chain: string[]; message: string }> {
    const plan = fakePlan(hosts, { env, slackChannel: '#deploys' });
    const req = deployRequest(plan, 'v2');
    await sendDeploy(testEnv.client, req, tq);
    let failure: { type?: string; chain: string[]; message: string } | undefined;
    await assert.rejects(childResult(testEnv.client, req.deployId), (err: Error) => {
      const chain: string[] = [];
      const top = (err.cause as { cause?: { type?: string; message?: string } }).cause;
      for (let e: unknown = top; e instanceof Error; e = e.cause) chain.push((e as { type?: string }).type ?? e.constructor.name);
      failure = { ...(top?.type !== undefined ? { type: top.type } : {}), chain, message: top?.message ?? '' };
      return true;
    });
    assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1'], 'no router changed');
    assert.ok(!world.events.some((e) => e.op !== 'check'), `nothing but reads happened: ${JSON.stringify(world.events)}`);
    assert.match(world.slack.at(-1)?.text ?? '', /^:no_entry: .* refused: .*; nothing was changed/);
    return failure!;
  }

  test('hosts that disagree on the live colour: HostsDisagree', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.host('web2').router = { color: 'green', version: 'v0', canary: null };
    await withWorker(world, async (tq, env) => {
      const plan = fakePlan(hosts, { env, slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: Error) => {
        const top = (err.cause as { cause?: { type?: string; message?: string } }).cause;
        assert.equal(top?.type, 'HostsDisagree');
        assert.match(top?.message ?? '', /hosts disagree on the live colour: web1 serves blue \(v1\), web2 serves green \(v0\)/);
        return true;
      });
      assert.deepEqual(world.serving(), ['blue:v1', 'green:v0'], 'no router changed');
      // The version check (a read) runs beside the router reads; nothing else ran.
      assert.deepEqual(world.events.filter((e) => e.op !== 'check'), []);
      // The environment remembers the type, for a retried CI job whose run is gone.
      const state = await waitForState(testEnv.client, plan.app, env, (st) => st.recent.some((op) => op.id === req.deployId));
      assert.equal(state.recent.find((op) => op.id === req.deployId)?.failureType, 'HostsDisagree');
    });
  });

  test('a changed host key: the activity\'s HostKeyRejected comes through as it is', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const activities = world.activities();
    const readRouter: typeof activities.readRouter = async (input) => {
      if (input.host.name === 'web2') throw ApplicationFailure.nonRetryable('web2 (127.0.0.12:22): host key mismatch', 'HostKeyRejected');
      return world.activities().readRouter(input);
    };
    await withWorker(world, async (tq, env) => {
      const f = await failureOf(tq, env, world);
      assert.equal(f.type, undefined, 'an ActivityFailure on top');
      assert.deepEqual(f.chain, ['ActivityFailure', 'HostKeyRejected']);
    }, { ...activities, readRouter });
  });

  test('a host that cannot be reached: EnvironmentNotDeployable, after the read is retried', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const activities = world.activities();
    let tries = 0;
    const readRouter: typeof activities.readRouter = async (input) => {
      if (input.host.name === 'web2') {
        tries++;
        throw new Error('web2 (127.0.0.12:22): connect ECONNREFUSED');
      }
      return world.activities().readRouter(input);
    };
    await withWorker(world, async (tq, env) => {
      const f = await failureOf(tq, env, world);
      assert.equal(f.type, 'EnvironmentNotDeployable');
      assert.equal(f.message, 'could not read every host before deploying; nothing was changed');
      assert.deepEqual(f.chain, ['EnvironmentNotDeployable', 'ActivityFailure', 'Error']);
      assert.equal(tries, 5, 'the read was retried first');
    }, { ...activities, readRouter });
  });
});
