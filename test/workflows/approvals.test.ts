// Approvals on the time-skipping test server, over the in-memory hosts: N of M approvers,
// refusals (the trigger, a stranger, twice, nothing waiting), a rejection and a timeout that
// end the deploy before traffic moves, and `before: start` that waits before anything changes.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { approveUpdate, rejectUpdate, type ApprovalPolicy, type DeployRequest, type DeployResult, type EnvState, type Plan } from '../../contract';
import { causes, childResult, sendDeploy, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const HOUR = 3_600_000;
const hosts = ['web1', 'web2'];

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

async function withWorker<T>(world: FakeWorld, fn: (tq: string, env: string) => Promise<T>): Promise<T> {
  const taskQueue = `approvals-${++queueNo}`;
  testEnv = await startTimeSkipping();
  try {
    const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities: world.activities() });
    return await worker.runUntil(fn(taskQueue, `env${queueNo}`));
  } finally {
    await testEnv.teardown();
  }
}

const policy = (p: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({ required: 2, approvers: ['alice', 'bob', 'carol'], allowSelfApproval: false, timeoutMs: 4 * HOUR, before: 'switch', ...p });
const planWith = (env: string, p: Partial<ApprovalPolicy> = {}): Plan => ({ ...fakePlan(hosts, { env, slackChannel: '#deploys' }), approval: policy(p) });
const waitingFor = (s: EnvState): boolean => s.running?.gate?.phase === 'awaiting-approval';
const refusedWith = (pattern: RegExp) => (err: unknown) => err instanceof WorkflowUpdateFailedError && pattern.test(causes(err));

async function send(req: DeployRequest, tq: string): Promise<EnvState> {
  await sendDeploy(testEnv.client, req, tq);
  return waitForState(testEnv.client, req.plan.app, req.plan.env, waitingFor);
}

describe('approvals', () => {
  test('2 of alice, bob, carol before the switch: the trigger, a stranger and a second approval by the same person are refused; traffic moves after the second', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(planWith(env), 'v2'); // triggered by alice
      const state = await send(req, tq);
      assert.equal(state.running?.gate?.message, 'deploy of v2 before traffic moves to green: waiting for 2 more approvals from bob, carol');
      assert.deepEqual(world.running('green'), ['v2', 'v2'], 'the new version is started and healthy while it waits');
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1'], 'no traffic moved');
      const h = testEnv.client.workflow.getHandle(req.deployId);
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }), refusedWith(/alice triggered this deploy and cannot approve it; ask bob, carol/));
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'dave' }] }), refusedWith(/dave is not an approver of shop\/env\d+ here/));
      const first = await h.executeUpdate(approveUpdate, { args: [{ by: 'bob', comment: 'diff looks fine' }] });
      assert.equal(first.message, 'deploy of v2 before traffic moves to green: waiting for 1 more approval from carol');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), refusedWith(/bob has already approved this deploy/));
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.message.includes('1 more approval from carol') === true);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.version, 'v2');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.ok(world.slack.some((m) => m.text.includes(':raising_hand:') && m.text.includes('waiting for 2 more approvals from bob, carol')));
    });
  });

  test('one rejection ends the deploy: the new colour is stopped, the live one never left', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(planWith(env), 'v2');
      await send(req, tq);
      const h = testEnv.client.workflow.getHandle(req.deployId);
      await assert.rejects(h.executeUpdate(rejectUpdate, { args: [{ by: 'dave', comment: 'no' }] }), refusedWith(/dave is not an approver/));
      await h.executeUpdate(rejectUpdate, { args: [{ by: 'carol', comment: 'wait for the migration' }] });
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: unknown) => /rejected by carol: wait for the migration/.test(causes(err)));
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null], 'the new colour is stopped');
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.running === null && s.recent.length > 0);
      assert.equal(state.recent[0]?.outcome, 'failed');
    });
  });

  test('no approval within the timeout ends it the same way (4 hours skipped)', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(planWith(env, { required: 1 }), 'v2');
      await send(req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: unknown) => /no approval in time \(.*waiting for 1 more approval from bob, carol\)/.test(causes(err)));
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null]);
    });
  });

  test('before: start waits before any host is read, and allows self-approval when the policy says so', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(planWith(env, { required: 1, before: 'start', allowSelfApproval: true }), 'v3');
      await send(req, tq);
      assert.equal(world.events.length, 0, 'nothing touched before the approval');
      await testEnv.client.workflow.getHandle(req.deployId).executeUpdate(approveUpdate, { args: [{ by: 'alice', comment: 'my own, allowed here' }] });
      await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.deepEqual(world.serving(), ['green:v3', 'green:v3']);
    });
  });

  test('an approval or rejection while the deploy is not waiting for one is refused', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const held: (() => void)[] = [];
    world.beforeStart = () => new Promise<void>((r) => held.push(r));
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(planWith(env, { required: 1 }), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      while (held.length < hosts.length) await new Promise((r) => setTimeout(r, 50));
      const h = testEnv.client.workflow.getHandle(req.deployId);
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), refusedWith(/nothing to approve: .* is not waiting for an approval/));
      await assert.rejects(h.executeUpdate(rejectUpdate, { args: [{ by: 'bob', comment: 'x' }] }), refusedWith(/nothing to reject/));
      world.beforeStart = async () => {};
      held.splice(0).forEach((r) => r());
      await waitForState(testEnv.client, 'shop', env, waitingFor);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
    });
  });
});
