// The audit log on the time-skipping test server, against a model of the table (a row per event
// id, skipped when already there) and a database that can be down: every step of a deploy, each
// approver as the actor of their approval, a rejection, a rollback and its teardown; each event
// written exactly once however often the write is retried; a database that is down holds up no
// host change, and the deploy ends only once its events are in.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { approveUpdate, progressQuery, rejectUpdate, type DeployResult, type Plan } from '../../contract';
import type { AuditEvent } from '../../contract/audit';
import { causes, childResult, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const hosts = ['web1', 'web2'];
let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

async function withWorker<T>(world: FakeWorld, fn: (tq: string, env: string) => Promise<T>): Promise<T> {
  const taskQueue = `audit-${++queueNo}`;
  testEnv = await startTimeSkipping();
  try {
    const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities: world.activities() });
    return await worker.runUntil(fn(taskQueue, `env${queueNo}`));
  } finally {
    await testEnv.teardown();
  }
}

const audited = (env: string, p: Partial<Plan> = {}): Plan => ({ ...fakePlan(hosts, { env, teardownDelayMs: 60 * 60_000 }), audit: true, ...p });
const approval = { required: 2, approvers: ['alice', 'bob', 'carol'], allowSelfApproval: false, timeoutMs: 4 * 3_600_000, before: 'switch' as const };

/** The rows of one operation in the order they happened. */
const rowsOf = (world: FakeWorld, operationId: string): AuditEvent[] =>
  [...world.audit.rows.values()].filter((e) => e.operationId === operationId).sort((a, b) => Number(a.id.split(':').pop()) - Number(b.id.split(':').pop()));
const actions = (rows: AuditEvent[]): string[] => rows.map((r) => (r.action === 'step' ? `step:${String(r.detail.phase)}` : r.action));

describe('audit log', () => {
  test('a deploy with two approvals: every step once, each approver the actor of their approval, the outcome with its approvers; a lost write answer is retried without a duplicate', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.audit.loseAnswers = 2;
    await withWorker(world, async (tq, env) => {
      const req = deployRequest({ ...audited(env), approval }, 'v2'); // triggered by alice
      await sendDeploy(testEnv.client, req, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'awaiting-approval');
      const h = testEnv.client.workflow.getHandle(req.deployId);
      await h.executeUpdate(approveUpdate, { args: [{ by: 'bob', comment: 'diff looks fine' }] });
      await h.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
      await childResult<DeployResult>(testEnv.client, req.deployId);

      const rows = rowsOf(world, req.deployId);
      assert.deepEqual(actions(rows), [
        'requested',
        'step:reading',
        'step:checking',
        'started',
        'step:preparing',
        'step:starting',
        'step:health-check',
        'awaiting-approval',
        'approved',
        'awaiting-approval',
        'approved',
        'step:approved',
        'step:switching',
        'step:switching',
        'switched',
        'step:verifying',
        'succeeded',
      ]);
      const approvals = rows.filter((r) => r.action === 'approved');
      assert.deepEqual(approvals.map((r) => [r.actor, r.detail.comment]), [['bob', 'diff looks fine'], ['carol', undefined]]);
      const last = rows.at(-1)!;
      assert.equal(last.actor, 'alice', 'the trigger is the actor of the deploy itself');
      assert.equal(last.outcome, 'succeeded');
      assert.deepEqual(last.approvers, ['bob', 'carol']);
      assert.equal(last.version, 'v2');
      assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
      assert.ok(world.audit.attempts > rows.length / 16 + 2, 'the writes whose answers were lost were retried');
    });
  });

  test('PostgreSQL down: the deploy changes the hosts all the same, and ends only once its events are written', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    world.audit.down = true;
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(audited(env), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      const deadline = Date.now() + 30_000;
      while (world.serving().join() !== 'green:v2,green:v2') {
        assert.ok(Date.now() < deadline, `traffic never moved: ${world.serving().join()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(world.audit.rows.size, 0);
      const state = await waitForState(testEnv.client, 'shop', env, () => true);
      assert.equal(state.running?.id, req.deployId, 'the deploy is still open while its events wait');
      while (world.audit.attempts < 3) {
        assert.ok(Date.now() < deadline, `the write was not retried (${world.audit.attempts} attempts)`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Down for minutes: the deploy says in its progress (status, the UI, the CLI) that events wait.
      await testEnv.sleep(5 * 60_000);
      const progress = await testEnv.client.workflow.getHandle(req.deployId).query(progressQuery);
      assert.match(progress.at(-1)?.message ?? '', /^audit log: 1\d event\(s\) not written yet \(.*ECONNREFUSED.*\); trying again every minute$/);
      world.audit.down = false;
      await childResult<DeployResult>(testEnv.client, req.deployId);
      const rows = rowsOf(world, req.deployId);
      assert.equal(rows[0]?.action, 'requested');
      assert.equal(rows.at(-1)?.action, 'succeeded');
      assert.equal(rows.length, 12, actions(rows).join(', '));
    });
  });

  test('a rejection is the rejecter’s event; a rollback and the teardown it leaves are audited as their own operations', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const rejected = deployRequest({ ...audited(env), approval }, 'v2');
      await sendDeploy(testEnv.client, rejected, tq);
      await waitForState(testEnv.client, 'shop', env, (s) => s.running?.gate?.phase === 'awaiting-approval');
      await testEnv.client.workflow.getHandle(rejected.deployId).executeUpdate(rejectUpdate, { args: [{ by: 'carol', comment: 'wait for the migration' }] });
      await assert.rejects(childResult(testEnv.client, rejected.deployId), (err: unknown) => /rejected by carol/.test(causes(err)));
      const r = rowsOf(world, rejected.deployId);
      const rejection = r.find((e) => e.action === 'rejected');
      assert.equal(rejection?.actor, 'carol');
      assert.equal(rejection?.detail.comment, 'wait for the migration');
      assert.equal(r.at(-1)?.action, 'failed');
      assert.equal(r.at(-1)?.outcome, 'failed');

      const v2 = deployRequest(audited(env, { teardownDelayMs: 60_000 }), 'v2', 'gitlab-v2-again');
      await sendDeploy(testEnv.client, v2, tq);
      await childResult<DeployResult>(testEnv.client, v2.deployId);
      const rb = rollbackRequest(audited(env, { teardownDelayMs: 60_000 }), 'gitlab-rb');
      await sendRollback(testEnv.client, rb, tq);
      await childResult(testEnv.client, rb.rollbackId);
      const rollback = rowsOf(world, rb.rollbackId);
      assert.deepEqual(actions(rollback), ['requested', 'step:switching', 'step:verifying', 'step:stopping', 'step:done', 'rolled-back']);
      assert.ok(rollback.every((e) => e.operation === 'rollback' && e.actor === 'alice' && e.version === 'v1'));

      const v3 = deployRequest(audited(env, { teardownDelayMs: 60_000 }), 'v3');
      await sendDeploy(testEnv.client, v3, tq);
      await childResult<DeployResult>(testEnv.client, v3.deployId);
      await testEnv.sleep(2 * 60_000);
      await waitForState(testEnv.client, 'shop', env, (s) => s.previous === null);
      const deadline = Date.now() + 30_000;
      while (![...world.audit.rows.values()].some((e) => e.action === 'torn-down')) {
        assert.ok(Date.now() < deadline, 'no torn-down event');
        await new Promise((res) => setTimeout(res, 100));
      }
      const torn = [...world.audit.rows.values()].find((e) => e.action === 'torn-down')!;
      assert.equal(torn.operation, 'teardown');
      assert.equal(torn.outcome, 'succeeded');
      assert.equal(torn.version, 'v1');
    });
  });

  test('without audit in the plan nothing is written and no write is even tried', async () => {
    const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
    await withWorker(world, async (tq, env) => {
      const req = deployRequest(fakePlan(hosts, { env }), 'v2');
      await sendDeploy(testEnv.client, req, tq);
      await childResult<DeployResult>(testEnv.client, req.deployId);
      assert.equal(world.audit.attempts, 0);
    });
  });
});
