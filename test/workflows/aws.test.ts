// The AWS path's workflow logic on the time-skipping server: the same environment workflow,
// with the ALB listener and CodeDeploy modelled in memory (FakeAws). CodeDeploy's hooks take
// fake minutes, which are skipped.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DeployResult, EnvState, RollbackResult } from '../../contract';
import { childResult, envState, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { awsPlan } from '../support/aws-plans';
import { HOOKS } from '../support/fakes/aws';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

async function withWorker<T>(world: FakeWorld, fn: (taskQueue: string, env: string) => Promise<T>): Promise<T> {
  const taskQueue = `aws-${++queueNo}`;
  testEnv = await startTimeSkipping();
  try {
    const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities: world.activities() });
    return await worker.runUntil(fn(taskQueue, `env${queueNo}`));
  } finally {
    await testEnv.teardown();
  }
}

/** A world whose listener sends everything to blue (v1), as cutover last set it. */
function liveOnBlue(): FakeWorld {
  const world = new FakeWorld([]);
  world.aws.weights = { blue: 100, green: 0 };
  world.aws.record = { weights: { blue: 100, green: 0 }, versions: { blue: 'v1' } };
  world.aws.running.blue = 'v1';
  return world;
}

const deployFinished = (id: string) => (st: EnvState) => st.running === null && st.recent.some((op) => op.id === id);

describe('blue-green on ALB with CodeDeploy', () => {
  test('CodeDeploy to the idle colour, then one listener switch; the old group stays registered', async () => {
    const world = liveOnBlue();
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env, slackChannel: '#deploys' });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.color, 'green');
      assert.deepEqual(result.previous, { color: 'blue', version: 'v1' });
      assert.deepEqual(world.aws.events, [
        { op: 'deploy', color: 'green', version: 'v2' },
        { op: 'weights', weights: 'blue=0,green=100' },
      ]);
      assert.deepEqual(world.aws.running, { blue: 'v1', green: 'v2' });
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null);
      assert.equal(state.live?.version, 'v2');
      assert.equal(state.previous?.color, 'blue');
      assert.deepEqual(world.slack.map((m) => m.key.split(':').pop()), ['headline', 'started', 'switched', 'done']);
    });
  });

  for (const hook of HOOKS) {
    test(`CodeDeploy failing at ${hook}: the listener never moves, exit as failed`, async () => {
      const world = liveOnBlue();
      world.aws.failAt.set('v2', hook);
      await withWorker(world, async (tq, env) => {
        const plan = awsPlan({ env });
        const req = deployRequest(plan, 'v2');
        await sendDeploy(testEnv.client, req, tq);
        await assert.rejects(childResult(testEnv.client, req.deployId), new RegExp(`failed - rolled back: .*${hook}: ScriptFailed`));
        assert.deepEqual(world.aws.weights, { blue: 100, green: 0 });
        assert.equal(world.aws.events.filter((e) => e.op === 'weights').length, 0);
      });
    });
  }

  test('CodeDeploy taking longer than its timeout is stopped with auto-rollback', async () => {
    const world = liveOnBlue();
    world.aws.hang.add('v2');
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env, deployTimeoutMs: 5000, pollIntervalMs: 500 });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /still InProgress after 5000 ms; stopped it with auto-rollback/);
      assert.deepEqual(world.aws.events.map((e) => e.op), ['deploy', 'stop-deployment', 'rollback-deployment']);
      assert.deepEqual(world.aws.weights, { blue: 100, green: 0 });
    });
  });

  test('a rollback while CodeDeploy runs cancels the deploy, which stops the deployment with auto-rollback', async () => {
    const world = liveOnBlue();
    world.aws.hang.add('v2');
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, () => world.aws.events.some((e) => e.op === 'deploy'));
      const rb = rollbackRequest(plan, 'rb-emergency');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.equal(result.cancelledDeploy, req.deployId);
      assert.deepEqual([result.color, result.version], ['blue', 'v1']);
      assert.deepEqual(world.aws.events.map((e) => e.op), ['deploy', 'stop-deployment', 'rollback-deployment']);
      assert.deepEqual(world.aws.weights, { blue: 100, green: 0 });
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.recent.length >= 2);
      assert.equal(state.recent.find((r) => r.id === req.deployId)?.outcome, 'cancelled');
    });
  });

  test('rollback inside the window flips the listener back in one call; the window then closes without stopping anything', async () => {
    const world = liveOnBlue();
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      await testEnv.sleep(10 * MINUTE);
      const rb = rollbackRequest(plan, 'rb-1');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.deepEqual([result.color, result.version], ['blue', 'v1']);
      assert.deepEqual(world.aws.events.map((e) => e.weights ?? e.op), ['deploy', 'blue=0,green=100', 'blue=100,green=0']);
      await testEnv.sleep(2 * HOUR);
      const state = await envState(testEnv.client, plan.app, env);
      assert.equal(state.live?.version, 'v1');
      assert.equal(state.previous, null);
      assert.deepEqual(world.aws.running, { blue: 'v1', green: 'v2' }, 'nothing is stopped on AWS');
    });
  });

  test('the teardown window closes after the delay without touching the listener', async () => {
    const world = liveOnBlue();
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, plan.app, env, deployFinished(req.deployId));
      await testEnv.sleep(61 * MINUTE);
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.previous === null && s.running === null);
      assert.equal(state.recent.find((r) => r.kind === 'teardown')?.outcome, 'succeeded');
      assert.deepEqual(world.aws.weights, { blue: 0, green: 100 });
    });
  });

  test('a listener changed outside cutover is refused: nothing deployed, nothing switched', async () => {
    const world = liveOnBlue();
    world.aws.setByConsole({ blue: 50, green: 50 });
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /not as cutover left it: its weights are blue=50,green=50, but cutover last set blue=100,green=0/);
      assert.deepEqual(world.aws.events, []);
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null && s.recent.length > 0);
      assert.equal(state.recent[0]?.failureType, 'HostsDisagree');
    });
  });

  test('access denied on the switch surfaces with the AWS code and is not retried; traffic stays on blue', async () => {
    const world = liveOnBlue();
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env });
      const req = deployRequest(plan, 'v2');
      // CodeDeploy succeeds; the first ModifyListener is denied (later calls, the restore, succeed).
      const check = world.aws.check.bind(world.aws);
      world.aws.check = (what: string) => {
        if (what === 'ModifyListener' && !world.aws.events.some((e) => e.op === 'weights')) {
          world.aws.failNext = { code: 'AccessDenied', message: 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: elasticloadbalancing:ModifyListener', status: 403 };
          world.aws.check = check;
        }
        check(what);
      };
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /failed - rolled back: ModifyListener: AccessDenied: User: .* is not authorized/);
      assert.deepEqual(world.aws.weights, { blue: 100, green: 0 });
    });
  });
});

describe('canary on ALB', () => {
  const steps = [
    { weight: 10, pause: { durationMs: 5 * MINUTE } },
    { weight: 50, pause: { durationMs: 5 * MINUTE } },
    { weight: 100 },
  ];
  const strategy = { kind: 'canary' as const, steps, analysis: { intervalMs: MINUTE, failureLimit: 1, inconclusiveLimit: 3, metrics: [] } };

  test('the canary steps drive the listener weights 10 → 50 → 100 after CodeDeploy', async () => {
    const world = liveOnBlue();
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env, strategy });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.color, 'green');
      assert.deepEqual(world.aws.events.map((e) => e.weights ?? `${e.op} ${e.version}`), ['deploy v2', 'blue=90,green=10', 'blue=50,green=50', 'blue=0,green=100']);
      const state = await waitForState(testEnv.client, plan.app, env, (s) => s.running === null);
      assert.equal(state.live?.version, 'v2');
      assert.equal(state.previous?.color, 'blue');
    });
  });

  test('a canary whose CodeDeploy fails never moves the listener', async () => {
    const world = liveOnBlue();
    world.aws.failAt.set('v2', 'ValidateService');
    await withWorker(world, async (tq, env) => {
      const plan = awsPlan({ env, strategy });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /ValidateService: ScriptFailed/);
      assert.deepEqual(world.aws.weights, { blue: 100, green: 0 });
      assert.equal(world.aws.events.filter((e) => e.op === 'weights').length, 0);
    });
  });
  test('a CloudWatch metric of the canary group breaching at 10% rolls the listener back to the stable group', async () => {
    const world = liveOnBlue();
    world.aws.cloudwatch.set('errors', new Map([['v2', 0.2]]));
    await withWorker(world, async (tq, env) => {
      const metric = { kind: 'cloudwatch' as const, name: 'errors', metricName: 'HTTPCode_Target_5XX_Count', stat: 'Sum' as const, per: 'RequestCount', periodSeconds: 60, failIf: { op: '>' as const, value: 0.01 } };
      const plan = awsPlan({ env, strategy: { ...strategy, analysis: { ...strategy.analysis, metrics: [metric] } } });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), /errors = 0\.2 \(fail if > 0\.01\)/);
      assert.deepEqual(world.aws.events.map((e) => e.weights ?? `${e.op} ${e.version}`), ['deploy v2', 'blue=90,green=10', 'blue=100,green=0']);
    });
  });
});
