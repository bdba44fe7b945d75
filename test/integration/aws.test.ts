// The AWS path end to end on loopback: moto_server (ELBv2), the ALB data plane following it,
// the CodeDeploy stand-in starting real sample apps as the instances, the Temporal dev server,
// a cutover worker process using the SDK's default chain and AWS_ENDPOINT_URL_*, and the CLI.
// Load runs through the data plane; every check reads moto, the data plane or the instances.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { forwardAction } from '../../activities/alb/listener';
import type { AlbRouter } from '../../contract/aws';
import type { SetWeightsInput } from '../../activities/alb';
import { startLoad, type LoadSample, type LoadStats } from '../../sandbox/load';
import { activityRuns, recordHistory } from '../support/histories';
import { elbv2 } from '../support/aws/moto';
import { startAwsWorld, type AwsWorld } from '../support/aws/world';
import { eventually } from '../support/world';

let w: AwsWorld;
let file: string;
let router: AlbRouter;

before(async () => {
  w = await startAwsWorld('aws');
  // Before cutover: v1 runs on blue, the listener sends everything there.
  await w.codeDeploy.install('shop-blue', 'v1');
  file = w.config('cutover');
  router = { kind: 'alb', listenerArn: w.alb.listenerArn, targetGroups: w.alb.targetGroups, url: w.dataPlane.url };
});

after(async () => {
  await w?.stop();
});

async function underLoad<T>(fn: () => Promise<T>): Promise<{ result: T; load: LoadStats }> {
  const load = startLoad([w.dataPlane.url], 100, 5 * 60_000);
  await new Promise((r) => setTimeout(r, 500));
  const result = await fn();
  await new Promise((r) => setTimeout(r, 500));
  return { result, load: await load.stop() };
}

/** Each canary step's pause; the share is measured over it. */
const PAUSE_MS = 5000;
/** After albSetWeights returned: the data plane reads moto's listener every 100 ms. */
const SETTLE_MS = 400;

/** Share (percent) of the answers to requests sent between `from` and `to` that came from `version`. */
function shareIn(samples: LoadSample[], from: number, to: number, version: string): { share: number; answers: number; canary: number } {
  const inside = samples.filter((s) => s.at >= from && s.at <= to && s.version !== null);
  const canary = inside.filter((s) => s.version === version).length;
  return { share: (100 * canary) / Math.max(1, inside.length), answers: inside.length, canary };
}

const failed = (l: LoadStats) => `${l.failed} of ${l.sent} failed: ${l.failures.slice(0, 5).join('; ')}; data plane: ${w.dataPlane.upstreamErrors().slice(-5).join('; ')}`;

describe('blue-green on ALB through CodeDeploy', () => {
  test('deploy v2 under load: CodeDeploy to green, one listener switch, 0 failed requests through the load balancer', async () => {
    await eventually('blue healthy at the data plane', () => w.dataPlane.healthy(w.alb.targetGroups.blue).length === 2, 30_000);
    const { result: run, load } = await underLoad(() => w.cutover(['-c', file, '--json', 'deploy', 'shop', 'prod', 'v2', '--wait'], '101'));
    assert.equal(run.code, 0, run.stderr + run.stdout + w.worker.tail());
    console.log(`deploy v2: ${load.sent} requests, ${load.failed} failed, versions ${JSON.stringify(load.versions)}, data-plane read glitches skipped: ${w.dataPlane.glitches()}`);
    assert.equal(load.failed, 0, failed(load));
    assert.ok((load.versions.v2 ?? 0) > 0 && (load.versions.v1 ?? 0) > 0, JSON.stringify(load.versions));
    assert.equal(await w.weights(), 'blue=0,green=100');
    const deps = w.codeDeploy.deployments();
    assert.deepEqual(deps.map((d) => [d.group, d.version, d.status]), [['shop-green', 'v2', 'Succeeded']]);
    assert.deepEqual(Object.values(w.codeDeploy.running()).sort(), ['v1', 'v1', 'v2', 'v2'], 'the old group keeps running for rollback');
    recordHistory(w.server.address, 'deploy/shop/prod/gitlab-101-v2', 'aws-bluegreen-deploy-succeeded');
  });

  test('cutover rollback inside the window flips the listener back in one call', async () => {
    const started = Date.now();
    const run = await w.cutover(['-c', file, 'rollback', 'shop', 'prod', '--wait'], '102');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const seen = await w.dataPlane.sawAllTo(w.alb.targetGroups.blue, started);
    console.log(`rollback: listener back on blue at the data plane ${seen - started} ms after the CLI started`);
    assert.equal(await w.weights(), 'blue=100,green=0');
    const res = await fetch(w.dataPlane.url);
    assert.equal(res.headers.get('x-app-version'), 'v1');
    await w.client.workflow.getHandle('rollback/shop/prod/gitlab-102').result();
    recordHistory(w.server.address, 'rollback/shop/prod/gitlab-102', 'aws-rollback-succeeded');
  });

  test('a listener changed in the console is refused (exit 4), nothing deployed', async () => {
    const c = elbv2(w.moto.url);
    await c.send(new ModifyListenerCommand({ ListenerArn: w.alb.listenerArn, DefaultActions: forwardAction(router, { blue: 70, green: 30 }) }));
    const before = w.codeDeploy.deployments().length;
    const run = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v3', '--wait'], '103');
    assert.equal(run.code, 4, run.stderr + run.stdout);
    assert.match(run.stderr + run.stdout, /not as cutover left it: its weights are blue=70,green=30, but cutover last set blue=100,green=0/);
    assert.equal(w.codeDeploy.deployments().length, before);
    assert.equal(await w.weights(), 'blue=70,green=30');
    // Put it back as cutover left it.
    await c.send(new ModifyListenerCommand({ ListenerArn: w.alb.listenerArn, DefaultActions: forwardAction(router, { blue: 100, green: 0 }) }));
  });

  test('a release failing ValidateService: CodeDeploy fails and rolls back, the live group stays at 100%, exit 1', async () => {
    const { result: run, load } = await underLoad(() => w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'bad1', '--wait'], '104'));
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(run.stderr + run.stdout, /ValidateService: ScriptFailed: \/health\/deep not healthy after 10 tries \(HTTP 503\)/);
    assert.equal(load.failed, 0, failed(load));
    assert.equal(await w.weights(), 'blue=100,green=0');
    // CodeDeploy's auto-rollback redeploys the group's last good version.
    await eventually('auto-rollback of bad1 done', () => w.codeDeploy.deployments().at(-1)?.status === 'Succeeded', 60_000);
    const last = w.codeDeploy.deployments().filter((d) => d.group === 'shop-green');
    assert.deepEqual(last.slice(-2).map((d) => [d.version, d.status]), [['bad1', 'Failed'], ['v2', 'Succeeded']]);
    recordHistory(w.server.address, 'deploy/shop/prod/gitlab-104-bad1', 'aws-bluegreen-validate-failed');
  });

  test('a deploy cancelled by a rollback stops its CodeDeploy deployment with auto-rollback', async () => {
    // Slow hooks (7 × 5 s per instance): the rollback arrives while CodeDeploy still runs.
    w.codeDeploy.hookMs = 5000;
    try {
      const deploy = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v4', '--wait'], '105');
      await eventually('CodeDeploy deployment of v4 in progress', () => w.codeDeploy.deployments().some((d) => d.version === 'v4' && d.status === 'InProgress'), 120_000);
      const rb = await w.cutover(['-c', file, 'rollback', 'shop', 'prod', '--wait'], '106');
      assert.equal(rb.code, 0, rb.stderr + rb.stdout);
      assert.notEqual((await deploy).code, 0);
      await eventually('v4 stopped and rolled back', () => {
        const d = w.codeDeploy.deployments();
        const v4 = d.find((x) => x.version === 'v4');
        return v4?.status === 'Stopped' && d.some((x) => x.rollbackOf === v4.id);
      }, 60_000);
      assert.equal(await w.weights(), 'blue=100,green=0');
    } finally {
      w.codeDeploy.hookMs = 50;
    }
  });

  test('AccessDenied from CodeDeploy surfaces with the AWS code and is not retried; nothing switched', async () => {
    await eventually('no active deployment', () => w.codeDeploy.deployments().every((d) => d.status !== 'InProgress' && d.status !== 'Created'), 60_000);
    w.codeDeploy.denyNext('CreateDeployment', 'AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: codedeploy:CreateDeployment');
    const before = w.codeDeploy.deployments().length;
    const run = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v5', '--wait'], '107');
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(run.stderr + run.stdout, /CreateDeployment: AccessDeniedException: User: .* is not authorized to perform: codedeploy:CreateDeployment/);
    assert.equal(w.codeDeploy.deployments().length, before);
    assert.equal(await w.weights(), 'blue=100,green=0');
  });

  test('throttling from CodeDeploy is retried with backoff and the deploy goes through', async () => {
    w.codeDeploy.denyNext('GetDeployment', 'ThrottlingException', 'Rate exceeded');
    const run = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v6', '--wait'], '108');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.ok(w.codeDeploy.denied.includes('GetDeployment: ThrottlingException'));
    assert.equal(await w.weights(), 'blue=0,green=100');
  });

  test('canary 10% -> 50% -> 100% on the listener under load: measured shares follow the weights, 0 failed requests', async () => {
    // Live: v6 on green. The canary goes to blue.
    const canaryFile = w.config('canary', (env) => {
      env.strategy = { canary: { steps: [{ weight: 10, pause: `${PAUSE_MS}ms` }, { weight: 50, pause: `${PAUSE_MS}ms` }, { weight: 100 }] } };
    });
    const id = 'deploy/shop/prod/gitlab-109-v7';
    const { result: run, load } = await underLoad(() => w.cutover(['-c', canaryFile, 'deploy', 'shop', 'prod', 'v7', '--wait'], '109'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(load.failed, 0, failed(load));
    assert.equal(await w.weights(), 'blue=100,green=0');
    assert.deepEqual(w.codeDeploy.deployments().filter((d) => d.version === 'v7').map((d) => [d.group, d.status]), [['shop-blue', 'Succeeded']]);

    const moves = (await activityRuns(w.client, id)).filter((r) => r.type === 'albSetWeights');
    assert.deepEqual(moves.map((m) => (m.input as SetWeightsInput).weights), [{ blue: 10, green: 90 }, { blue: 50, green: 50 }, { blue: 100, green: 0 }], 'one ModifyListener per step');
    const shares = moves.slice(0, -1).map((m, i) => {
      const weight = (m.input as SetWeightsInput).weights.blue;
      return { weight, ...shareIn(load.samples, m.closed + SETTLE_MS, moves[i + 1]!.started, 'v7') };
    });
    console.log(`ALB canary shares: ${shares.map((s) => `${s.weight}% -> ${s.share.toFixed(1)}% (${s.canary}/${s.answers})`).join(', ')}`);
    // ~450 answers per step at 100 req/s: a binomial standard deviation of 1.4% at 10%, 2.4% at 50%.
    const tolerance: Record<number, [number, number]> = { 10: [5, 15], 50: [40, 60] };
    for (const s of shares) {
      const [lo, hi] = tolerance[s.weight]!;
      assert.ok(s.answers > 250, `${s.weight}%: enough answers in the window (${s.answers})`);
      assert.ok(s.share >= lo && s.share <= hi, `${s.weight}%: measured ${s.share.toFixed(1)}% (${s.canary}/${s.answers}), expected ${lo}-${hi}%`);
    }
    recordHistory(w.server.address, id, 'aws-canary-deploy-succeeded');
  });
});
