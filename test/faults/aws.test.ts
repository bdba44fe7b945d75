// Faults on the AWS path, against the local AWS world (moto_server for ELBv2, the ALB data plane
// following it, the CodeDeploy stand-in with real sample-app instances, a worker process, the
// CLI), under a steady load of 100 req/s through the data plane. The worker reaches ELBv2 and
// CodeDeploy through gates (test/support/aws/gate.ts) that count the API calls, can go down
// (ECONNREFUSED) and can hold a call in flight.
//
// What the faults cost in time (Temporal's own timeouts and the AWS retry policy, no sleeps):
// - the worker killed with DescribeTargetHealth in flight: the activity is retried on the new
//   worker after its 30 s heartbeat timeout;
// - ELBv2 down before the switch for longer than the retry window: 6 attempts, 1 s doubling to
//   15 s (about 30 s), then the deploy fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLoad, type LoadStats } from '../../sandbox/load';
import { startAwsWorld, type AwsWorld } from '../support/aws/world';
import { eventually, sleep } from '../support/world';

let w: AwsWorld;
let file: string;

before(async () => {
  w = await startAwsWorld('faults-aws');
  await w.codeDeploy.install('shop-blue', 'v1');
  file = w.config('faults');
  await eventually('blue healthy at the data plane', () => w.dataPlane.healthy(w.alb.targetGroups.blue).length === 2, 30_000);
});

after(async () => {
  await w?.stop();
});

const deploy = (version: string, pipeline: string) => w.cutover(['-c', file, 'deploy', 'shop', 'prod', version, '--wait'], pipeline, 300_000);
const failed = (l: LoadStats) => `${l.failed} of ${l.sent} failed: ${l.failures.slice(0, 5).join('; ')}; data plane: ${w.dataPlane.upstreamErrors().slice(-5).join('; ')}`;
const deploymentsOf = (version: string) => w.codeDeploy.deployments().filter((d) => d.version === version);

/** `p`, or a failure naming what never happened after `ms` (the timer cleared either way). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} (${ms} ms)`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last failure of the deploy's pending activities (what the Temporal UI shows while it retries). */
async function pendingFailure(workflowId: string): Promise<string> {
  const d = await w.client.workflow.getHandle(workflowId).describe();
  return (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}#${a.attempt}: ${a.lastFailure?.message ?? ''}`).join('\n');
}

describe('AWS path faults', () => {
  test('fault: worker SIGKILLed between CodeDeploy success and the listener switch -> the new worker resumes, one CodeDeploy deployment, one switch, 0 failed requests', async () => {
    const load = startLoad([w.dataPlane.url], 100, 5 * 60_000);
    const modifies = w.gates.elbv2.calls('ModifyListener').length;
    const creates = w.gates.codeDeploy.calls('CreateDeployment').length;
    // The first target-health read after CodeDeploy succeeded waits at the gate: the worker dies with it in flight.
    const held = w.gates.elbv2.hold('DescribeTargetHealth');
    const running = deploy('v2', '201');
    await within(held.reached, 180_000, "the deploy never asked for the green targets' health");
    assert.deepEqual(deploymentsOf('v2').map((d) => [d.group, d.status]), [['shop-green', 'Succeeded']], 'CodeDeploy done when the worker dies');
    assert.equal(w.gates.elbv2.calls('ModifyListener').length, modifies, 'not switched yet');
    await w.worker.kill();
    held.release();
    await sleep(1000);
    await w.worker.start();
    const run = await running;
    const stats = await load.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
    assert.equal(stats.failed, 0, failed(stats));
    assert.equal(deploymentsOf('v2').length, 1, `no second CodeDeploy deployment: ${JSON.stringify(w.codeDeploy.deployments())}`);
    assert.equal(w.gates.codeDeploy.calls('CreateDeployment').length - creates, 1, 'one CreateDeployment call');
    assert.equal(w.gates.elbv2.calls('ModifyListener').length - modifies, 1, 'the listener switched once');
    assert.equal(await w.weights(), 'blue=0,green=100');
    assert.ok((stats.versions.v2 ?? 0) > 0, JSON.stringify(stats.versions));
  });

  test('fault: CodeDeploy endpoint down mid-deploy, back within the retry window -> the error names the API and endpoint while retried, the same deployment is watched to the end, the deploy completes', async () => {
    w.codeDeploy.hookMs = 400;
    const load = startLoad([w.dataPlane.url], 100, 5 * 60_000);
    const id = 'deploy/shop/prod/gitlab-202-v3';
    try {
      const running = deploy('v3', '202');
      await eventually('CodeDeploy deployment of v3 in progress', () => deploymentsOf('v3').some((d) => d.status === 'InProgress'), 120_000);
      await w.gates.codeDeploy.down();
      let seen = '';
      try {
        await eventually('the deploy shows why it is retrying', async () => /codeDeploy#[2-9]: GetDeployment: ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+/.test((seen = await pendingFailure(id))), 60_000, 200);
      } finally {
        await w.gates.codeDeploy.up();
      }
      console.log(`while CodeDeploy was down: ${seen}`);
      const run = await running;
      const stats = await load.stop();
      assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
      assert.equal(stats.failed, 0, failed(stats));
      assert.deepEqual(deploymentsOf('v3').map((d) => [d.group, d.status]), [['shop-blue', 'Succeeded']], 'one deployment, watched again after the outage');
      assert.equal(await w.weights(), 'blue=100,green=0');
    } finally {
      w.codeDeploy.hookMs = 50;
    }
  });

  test('fault: ELBv2 endpoint down before the switch for longer than the retry window -> exit 1 naming the API and endpoint, the listener never moved, 0 failed requests', async () => {
    w.codeDeploy.hookMs = 300;
    const load = startLoad([w.dataPlane.url], 100, 5 * 60_000);
    const modifies = w.gates.elbv2.calls('ModifyListener').length;
    try {
      const started = Date.now();
      const running = deploy('v4', '203');
      await eventually('CodeDeploy deployment of v4 in progress', () => deploymentsOf('v4').some((d) => d.status === 'InProgress'), 120_000);
      await w.gates.elbv2.down();
      const run = await running;
      await w.gates.elbv2.up();
      const stats = await load.stop();
      console.log(`ELBv2 down: deploy ended after ${Date.now() - started} ms with exit ${run.code}`);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stderr + run.stdout, /DescribeTargetHealth: ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
      assert.equal(stats.failed, 0, failed(stats));
      assert.equal(w.gates.elbv2.calls('ModifyListener').length, modifies, 'no ModifyListener reached ELBv2');
      assert.equal(await w.weights(), 'blue=100,green=0', 'the live group kept all the traffic');
      assert.deepEqual(Object.keys(stats.versions), ['v3'], 'only the live version answered');
    } finally {
      w.codeDeploy.hookMs = 50;
    }
  });
  test('fault: ELBv2 endpoint down before the switch, back within the retry window -> the target-health wait is retried, then one switch; the deploy completes', async () => {
    w.codeDeploy.hookMs = 300;
    const load = startLoad([w.dataPlane.url], 100, 5 * 60_000);
    const modifies = w.gates.elbv2.calls('ModifyListener').length;
    const id = 'deploy/shop/prod/gitlab-204-v5';
    try {
      const running = deploy('v5', '204');
      await eventually('CodeDeploy deployment of v5 in progress', () => deploymentsOf('v5').some((d) => d.status === 'InProgress'), 120_000);
      await w.gates.elbv2.down();
      let seen = '';
      try {
        await eventually('the deploy shows why it is retrying', async () => /albWaitHealthy#[2-9]: DescribeTargetHealth: ECONNREFUSED: connect ECONNREFUSED 127\.0\.0\.1:\d+/.test((seen = await pendingFailure(id))), 60_000, 200);
      } finally {
        await w.gates.elbv2.up();
      }
      console.log(`while ELBv2 was down: ${seen}`);
      const run = await running;
      const stats = await load.stop();
      assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
      assert.equal(stats.failed, 0, failed(stats));
      assert.equal(w.gates.elbv2.calls('ModifyListener').length - modifies, 1, 'the listener switched once');
      assert.equal(await w.weights(), 'blue=0,green=100');
    } finally {
      w.codeDeploy.hookMs = 50;
    }
  });
});
