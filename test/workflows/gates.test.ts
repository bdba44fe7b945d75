// Freeze windows and scheduled deploys on the time-skipping test server, with the hosts
// modelled in memory (FakeWorld) and the real freeze arithmetic: refused or held deploys,
// a deploy queued just before a freeze opens, break-glass approvals, rollback during a freeze,
// a canary held at its weight, one-off scheduled deploys (fire, cancel, freeze at fire time), and
// approvals: N of M approvers, refusals, a rejection and a timeout that end the deploy before
// traffic moves, and `before: start`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DateTime } from 'luxon';
import type { Activities } from '../../activities';
import {
  approveUpdate,
  cancelUpdate,
  rejectUpdate,
  type ApprovalPolicy,
  envWorkflowId,
  type DeployRequest,
  type DeployResult,
  type EnvState,
  type FreezePolicy,
  type FreezeWindow,
  type Plan,
  type RollbackResult,
} from '../../contract';
import { causes, childResult, envState, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const hosts = ['web1', 'web2'];

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

/** Every router change with the server's (skipped) time it happened at. */
interface Change {
  at: number;
  host: string;
  color: string;
  weight: number;
}

async function withWorker<T>(world: FakeWorld, fn: (tq: string, env: string, changes: Change[], measured: number[]) => Promise<T>): Promise<T> {
  const taskQueue = `gates-${++queueNo}`;
  const changes: Change[] = [];
  /** When each canary measurement was taken (server time). */
  const measured: number[] = [];
  testEnv = await startTimeSkipping();
  try {
    const acts = world.activities();
    const activities: Activities = {
      ...acts,
      async switchRouter(input) {
        const r = await acts.switchRouter(input);
        if (r.changed) changes.push({ at: Context.current().info.scheduledTimestampMs, host: input.host.name, color: input.color, weight: input.canary?.weight ?? 100 });
        return r;
      },
      async measurePrometheus(input) {
        measured.push(Context.current().info.scheduledTimestampMs);
        return acts.measurePrometheus(input);
      },
    };
    const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    return await worker.runUntil(fn(taskQueue, `env${queueNo}`, changes, measured));
  } finally {
    await testEnv.teardown();
  }
}

const utc = (ms: number): string => DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat('yyyy-MM-dd HH:mm');
/** A one-off window in UTC from `from` to `to` (minute precision). */
const oneOff = (name: string, from: number, to: number): FreezeWindow => ({ kind: 'oneOff', name, timezone: 'UTC', from: utc(from), to: utc(to) });
/** A daily window opening at the minute of `opensAt` (UTC). */
const daily = (name: string, opensAt: number, durationMs: number): FreezeWindow => {
  const t = DateTime.fromMillis(opensAt, { zone: 'UTC' });
  return { kind: 'recurring', name, timezone: 'UTC', cron: `${t.minute} ${t.hour} * * *`, durationMs };
};

function frozenPlan(env: string, freeze: Partial<FreezePolicy> & Pick<FreezePolicy, 'windows'>, extra: Partial<Plan> = {}): Plan {
  return { ...fakePlan(hosts, { env, slackChannel: '#deploys' }), freeze: { onFreeze: 'reject', breakGlassApprovers: [], ...freeze }, ...extra };
}

/** Deploy v2 over v1 without any freeze, so v1 is kept for rollback; returns that state. */
async function deployV2(tq: string, env: string): Promise<EnvState> {
  const req = deployRequest(fakePlan(hosts, { env }), 'v2');
  await sendDeploy(testEnv.client, req, tq);
  return waitForState(testEnv.client, 'shop', env, (s) => s.running === null && s.recent.some((r) => r.id === req.deployId && r.outcome === 'succeeded'));
}

const isUpdateRefusal = (pattern: RegExp) => (err: unknown) => err instanceof WorkflowUpdateFailedError && pattern.test(causes(err));

describe('freeze windows', () => {
  test('onFreeze reject: refused with the window and its end, nothing changed, the old colour still there for rollback', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      await deployV2(tq, env);
      const now = Date.now();
      const plan = frozenPlan(env, { windows: [oneOff('incident', now - HOUR, now + 3 * HOUR)] });
      const req = deployRequest(plan, 'v3');
      const before = world.events.length;
      await sendDeploy(testEnv.client, req, tq);
      // Through the state query, not the result: awaiting a result lets the server skip time, and
      // the hour-long teardown of v1 would fire before the rollback below.
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.recent[0]?.id === req.deployId);
      assert.equal(state.recent[0]?.outcome, 'failed');
      assert.match(state.recent[0]?.reason ?? '', /frozen by incident until .* UTC; nothing was changed/);
      assert.equal(state.recent[0]?.failureType, 'DeployFrozen');
      assert.equal(world.events.length, before, 'no host touched');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.ok(world.slack.some((m) => m.text.includes(':no_entry:') && m.text.includes('frozen by incident')), 'Slack says it was refused');
      assert.equal(state.previous?.version, 'v1', 'a refused deploy keeps the colour kept for rollback');
      // Rollback is never frozen.
      const rb = rollbackRequest(plan, 'rb-frozen');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.equal(result.version, 'v1');
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
    });
  });

  test('onFreeze wait: a deploy queued a minute before the freeze opens is held until it lifts, then runs', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env, changes) => {
      // A canary pausing 10 minutes keeps the environment busy past the window's opening.
      const busy = deployRequest(fakePlan(hosts, { env, strategy: { kind: 'canary', steps: [{ weight: 50, pause: { durationMs: 10 * MINUTE } }], analysis: { intervalMs: MINUTE, failureLimit: 1, inconclusiveLimit: 3, metrics: [] } } }), 'v2', 'busy');
      await sendDeploy(testEnv.client, busy, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.id === busy.deployId);
      const opens = Math.ceil((Date.now() + 2 * MINUTE) / MINUTE) * MINUTE;
      const plan = frozenPlan(env, { onFreeze: 'wait', windows: [daily('evening', opens, 2 * HOUR)] });
      const held = deployRequest(plan, 'v3');
      await sendDeploy(testEnv.client, held, tq);
      await childResult<DeployResult>(testEnv.client, busy.deployId);
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.running?.id === held.deployId && s.running.gate?.phase === 'frozen');
      assert.match(state.running?.gate?.message ?? '', /^frozen by evening until .* UTC$/);
      assert.equal(state.running?.gate?.until, opens + 2 * HOUR);
      assert.equal(state.previous?.version, 'v1', 'the held deploy has not taken the rollback colour');
      const result = await childResult<DeployResult>(testEnv.client, held.deployId);
      assert.equal(result.version, 'v3');
      const v3Switch = changes.find((c) => c.color === result.color && c.weight === 100 && c.at >= opens);
      assert.ok(v3Switch && v3Switch.at >= opens + 2 * HOUR, `switched after the window lifted (at +${v3Switch && (v3Switch.at - opens) / MINUTE} min)`);
      assert.ok(world.slack.some((m) => m.text.includes(':snowflake:') && m.text.includes('held: frozen by evening')));
    });
  });

  test('break-glass: refused for the trigger and for strangers, approved by a listed approver, and deploys inside the freeze', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const now = Date.now();
      const plan = frozenPlan(env, { onFreeze: 'reject', windows: [oneOff('year-end', now - HOUR, now + 10 * 24 * HOUR)], breakGlassApprovers: ['alice', 'bob'] });
      const req: DeployRequest = { ...deployRequest(plan, 'v2'), breakGlass: { reason: 'payment outage hotfix' } };
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'awaiting-approval');
      const handle = testEnv.client.workflow.getHandle(req.deployId);
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }), isUpdateRefusal(/alice triggered this deploy and cannot approve it/));
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory' }] }), isUpdateRefusal(/mallory is not an approver of shop\/env\d+ here/));
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1'], 'nothing moves before the approval');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob', comment: 'go' }] });
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), isUpdateRefusal(/nothing to approve|bob has already approved/));
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.version, 'v2');
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
      assert.ok(world.slack.some((m) => m.text.includes('break-glass through year-end: approved by bob; reason: payment outage hotfix')));
    });
  });

  test('break-glass with no approver other than the trigger is refused at once', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const now = Date.now();
      const plan = frozenPlan(env, { windows: [oneOff('audit', now - HOUR, now + HOUR)], breakGlassApprovers: ['alice'] });
      const req: DeployRequest = { ...deployRequest(plan, 'v2'), breakGlass: { reason: 'x' } };
      await sendDeploy(testEnv.client, req, tq);
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: unknown) => /break-glass needs 1 approver\(s\) other than alice/.test(causes(err)));
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
    });
  });

  test('a rollback during a freeze goes past a held deploy: the held one is cancelled unchanged, traffic goes back', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      await deployV2(tq, env);
      const now = Date.now();
      const plan = frozenPlan(env, { onFreeze: 'wait', windows: [oneOff('launch', now - HOUR, now + 6 * HOUR)] });
      const held = deployRequest(plan, 'v3');
      await sendDeploy(testEnv.client, held, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'frozen');
      const rb = rollbackRequest(plan, 'rb-during-freeze');
      await sendRollback(testEnv.client, rb, tq);
      const result = await childResult<RollbackResult>(testEnv.client, rb.rollbackId);
      assert.equal(result.version, 'v1');
      assert.equal(result.cancelledDeploy, undefined, 'a real rollback, not "cancelled a deploy"');
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.deepEqual(world.running('green'), [null, null], 'the rolled-back colour is stopped');
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.running === null);
      assert.equal(state.recent.find((r) => r.id === held.deployId)?.outcome, 'cancelled');
    });
  });

  test('a canary whose next step falls in a freeze holds at its weight until it lifts, measuring on', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.metrics.set('errors', new Map([['v2', 0.001]]));
    await withWorker(world, async (tq, env, changes, measured) => {
      const opens = Math.ceil((Date.now() + 2 * MINUTE) / MINUTE) * MINUTE;
      const strategy = {
        kind: 'canary' as const,
        steps: [{ weight: 10, pause: { durationMs: 5 * MINUTE } }, { weight: 50, pause: { durationMs: 5 * MINUTE } }],
        analysis: { intervalMs: MINUTE, failureLimit: 1, inconclusiveLimit: 3, metrics: [{ kind: 'prometheus' as const, name: 'errors', url: 'http://prometheus:9090', query: 'x', failIf: { op: '>' as const, value: 0.01 } }] },
      };
      const plan = frozenPlan(env, { onFreeze: 'wait', windows: [daily('nightly', opens, HOUR)] }, { strategy });
      const req = deployRequest(plan, 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await childResult<DeployResult>(testEnv.client, req.deployId);
      const weights = changes.filter((c) => c.host === 'web1').map((c) => ({ weight: c.weight, at: c.at }));
      assert.deepEqual(weights.map((w) => w.weight), [10, 50, 100]);
      assert.ok(weights[0]!.at < opens, 'the first step went before the freeze');
      assert.ok(weights[1]!.at >= opens + HOUR, `50% waited for the freeze to lift (+${(weights[1]!.at - opens) / MINUTE} min)`);
      assert.ok(world.slack.some((m) => m.text.includes('canary held at 10%')));
      const duringFreeze = measured.filter((t) => t >= opens && t < opens + HOUR).length;
      assert.ok(duringFreeze >= 10 && duringFreeze <= 14, `measured every 5 minutes while held (${duringFreeze} in the hour), not every interval (60)`);
    });
  });
});

describe('scheduled deploys', () => {
  test('held by the environment until its notice time, announced in Slack, deployed at its time; another one cancelled', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env, changes) => {
      const plan = { ...fakePlan(hosts, { env, slackChannel: '#deploys' }), scheduleNoticeMs: 15 * MINUTE };
      const at = Date.now() + 3 * HOUR;
      const req: DeployRequest = { ...deployRequest(plan, 'v2'), scheduledFor: { at, text: 'in three hours' } };
      const other: DeployRequest = { ...deployRequest(plan, 'v3'), scheduledFor: { at: at + HOUR, text: 'in four hours' } };
      await sendDeploy(testEnv.client, req, tq);
      await sendDeploy(testEnv.client, other, tq);
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.scheduled.length === 2);
      assert.deepEqual(state.scheduled.map((s) => s.version), ['v2', 'v3']);
      assert.equal(state.running, null);
      const envHandle = testEnv.client.workflow.getHandle(envWorkflowId('shop', env));
      const cancelled = await envHandle.executeUpdate(cancelUpdate, { args: [{ id: other.deployId, by: 'carol' }] });
      assert.deepEqual(cancelled, { cancelled: other.deployId, was: 'scheduled' });
      await assert.rejects(envHandle.executeUpdate(cancelUpdate, { args: [{ id: other.deployId, by: 'carol' }] }), isUpdateRefusal(/already cancelled/));

      await testEnv.sleep(2 * HOUR + 50 * MINUTE); // past the notice time (15 minutes before)
      const result = await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(result.version, 'v2');
      const switched = changes.find((c) => c.weight === 100);
      assert.ok(switched && switched.at >= at && switched.at < at + 5 * MINUTE, `deployed at its time (+${switched && (switched.at - at) / MINUTE} min)`);
      const keys = world.slack.map((m) => m.key.split(':').pop());
      assert.equal(keys[0], 'headline');
      assert.match(world.slack[0]!.text, /:alarm_clock: .*starts at in three hours/);
      assert.ok(keys.includes('done'), 'the end is told in the same thread');
      const after = await envState(testEnv.client, 'shop', env);
      assert.equal(after.recent.find((r) => r.id === other.deployId)?.reason, 'cancelled by carol');
    });
  });

  test('a scheduled deploy whose time falls inside a freeze is refused at fire time, nothing changed', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const at = Date.now() + 2 * HOUR;
      const plan = { ...frozenPlan(env, { windows: [oneOff('maintenance', at - 30 * MINUTE, at + HOUR)] }), scheduleNoticeMs: 5 * MINUTE };
      const req: DeployRequest = { ...deployRequest(plan, 'v2'), scheduledFor: { at, text: 'at two' } };
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.scheduled.length === 1);
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      await testEnv.sleep(2 * HOUR);
      await assert.rejects(childResult(testEnv.client, req.deployId), (err: unknown) => /frozen by maintenance/.test(causes(err)));
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.equal(world.events.filter((e) => e.op === 'start').length, 0);
    });
  });

  test('cancel drops a deploy held by a freeze: recorded as cancelled by who asked, nothing changed', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const now = Date.now();
      const req = deployRequest(frozenPlan(env, { onFreeze: 'wait', windows: [oneOff('launch', now - HOUR, now + HOUR)] }), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'frozen');
      const envHandle = testEnv.client.workflow.getHandle(envWorkflowId('shop', env));
      assert.deepEqual(await envHandle.executeUpdate(cancelUpdate, { args: [{ id: req.deployId, by: 'carol' }] }), { cancelled: req.deployId, was: 'waiting' });
      const state = await waitForState(testEnv.client, 'shop', env, (s) => s.running === null && s.recent.length > 0);
      assert.deepEqual({ outcome: state.recent[0]?.outcome, reason: state.recent[0]?.reason }, { outcome: 'cancelled', reason: 'cancelled by carol' });
      assert.deepEqual(world.serving(), ['blue:v1', 'blue:v1']);
      assert.equal(world.events.length, 0, 'no host was even read');
    });
  });

  test('cancel refuses a deploy that is already changing the hosts', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    const waiting: (() => void)[] = [];
    world.beforeStart = () => new Promise<void>((r) => waiting.push(r));
    const release = (): void => waiting.splice(0).forEach((r) => r());
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(fakePlan(hosts, { env }), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'passed');
      while (waiting.length < hosts.length) await new Promise((r) => setTimeout(r, 50));
      const envHandle = testEnv.client.workflow.getHandle(envWorkflowId('shop', env));
      await assert.rejects(envHandle.executeUpdate(cancelUpdate, { args: [{ id: req.deployId, by: 'carol' }] }), isUpdateRefusal(/already changing the hosts; use cutover rollback/));
      release();
      world.beforeStart = async () => {};
      await childResult<DeployResult>(testEnv.client, req.deployId);
    });
  });
});

const policy = (p: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({ required: 2, approvers: ['alice', 'bob', 'carol'], allowSelfApproval: false, timeoutMs: 4 * HOUR, before: 'switch', ...p });
const planWith = (env: string, p: Partial<ApprovalPolicy> = {}): Plan => ({ ...fakePlan(hosts, { env, slackChannel: '#deploys' }), approval: policy(p) });
const waitingFor = (s: EnvState): boolean => s.running?.gate?.phase === 'awaiting-approval';

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
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }), isUpdateRefusal(/alice triggered this deploy and cannot approve it; ask bob, carol/));
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'dave' }] }), isUpdateRefusal(/dave is not an approver of shop\/env\d+ here/));
      const first = await h.executeUpdate(approveUpdate, { args: [{ by: 'bob', comment: 'diff looks fine' }] });
      assert.equal(first.message, 'deploy of v2 before traffic moves to green: waiting for 1 more approval from carol');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), isUpdateRefusal(/bob has already approved this deploy/));
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
      await assert.rejects(h.executeUpdate(rejectUpdate, { args: [{ by: 'dave', comment: 'no' }] }), isUpdateRefusal(/dave is not an approver/));
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

  test('an approval given before a canary\'s first step stays valid through a freeze that holds the canary later: not asked again', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.metrics.set('errors', new Map([['v2', 0.001]]));
    await withWorker(world, async (tq, env, changes) => {
      const opens = Math.ceil((Date.now() + 2 * MINUTE) / MINUTE) * MINUTE;
      const strategy = {
        kind: 'canary' as const,
        steps: [{ weight: 10, pause: { durationMs: 5 * MINUTE } }, { weight: 50, pause: { durationMs: 5 * MINUTE } }],
        analysis: { intervalMs: MINUTE, failureLimit: 1, inconclusiveLimit: 3, metrics: [{ kind: 'prometheus' as const, name: 'errors', url: 'http://prometheus:9090', query: 'x', failIf: { op: '>' as const, value: 0.01 } }] },
      };
      const plan = frozenPlan(env, { onFreeze: 'wait', windows: [daily('nightly', opens, HOUR)] }, { strategy, approval: policy({ required: 1, approvers: ['bob'] }) });
      const req = deployRequest(plan, 'v2');
      await send(req, tq);
      await testEnv.client.workflow.getHandle(req.deployId).executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await childResult<DeployResult>(testEnv.client, req.deployId);
      const weights = changes.filter((c) => c.host === 'web1');
      assert.deepEqual(weights.map((w) => w.weight), [10, 50, 100]);
      assert.ok(weights[1]!.at >= opens + HOUR, 'held by the freeze after the approval');
      assert.equal(world.slack.filter((m) => m.text.includes(':raising_hand:')).length, 1, 'approval asked for once');
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
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }), isUpdateRefusal(/nothing to approve: .* is not waiting for an approval/));
      await assert.rejects(h.executeUpdate(rejectUpdate, { args: [{ by: 'bob', comment: 'x' }] }), isUpdateRefusal(/nothing to reject/));
      world.beforeStart = async () => {};
      held.splice(0).forEach((r) => r());
      await waitForState(testEnv.client, 'shop', env, waitingFor);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.deepEqual(world.serving(), ['green:v2', 'green:v2']);
    });
  });
});
