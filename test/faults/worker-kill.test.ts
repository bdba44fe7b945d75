// The worker process SIGKILLed at each step of a blue-green deploy in turn, then restarted,
// under a steady load of 100 req/s through both routers. The worker runs as its own process
// (tsx workers/main.ts), exactly as in production, writing the audit log to a real PostgreSQL:
// after a kill, every event of the deploy is there exactly once.
//
// What a kill costs in time (Temporal's own timeouts, not sleeps in the test):
// - a workflow task held by the dead worker moves on after the sticky-queue timeout (10 s);
// - an in-flight health check (replaceSlot: heartbeatTimeout 10 s) is retried on the new worker
//   after <= 10 s: from the check when its last recorded heartbeat says the slot had started
//   (heartbeats reach the server at most every 8 s), else from the stop (the three are idempotent);
// - an in-flight host command (switchRouter, ...: no heartbeat, startToClose 2 min) is
//   retried only after the 2 minute start-to-close timeout. The "between host 1 and host 2" kill
//   lands there, so that test takes ~2.5 min; the hosts keep serving (web1 new, web2 old) meanwhile.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startPostgres, type SandboxPostgres } from '../../sandbox/postgres';
import {
  assertHosts,
  assertNoFailedRequests,
  deployIdOf,
  eventually,
  sleep,
  slackEvents,
  startWorld,
  waitForStep,
  type CliRun,
  type World,
} from '../support/world';

let w: World;
let pg: SandboxPostgres;

const deploy = (version: string, pipeline: string, teardownDelay = '10m'): Promise<CliRun> =>
  w.cutover(
    [
      '-c',
      w.config(`kill-${pipeline}`, {
        teardownDelay,
        audit: {},
        edit: (env) => void (env.healthCheck = { path: '/health', expectStatus: 200, timeout: '2s', interval: '500ms', attempts: 80 }),
      }),
      'deploy', 'shop', 'prod', version, '--wait',
    ],
    pipeline,
    300_000,
  );

/** SIGKILL the worker, wait `downMs`, start a fresh one. */
async function killAndRestart(downMs = 1000): Promise<void> {
  await w.worker.kill();
  await sleep(downMs);
  await w.worker.start();
}

before(async () => {
  w = await startWorld('faults-worker', {
    v1: undefined,
    v2: { startDelayMs: 3000 },
    v3: { startDelayMs: 8000 },
    v4: undefined,
    v5: undefined,
  }, {
    worker: async (_server, dir) => {
      pg = await startPostgres({ dir: join(dir, 'postgres') });
      return { env: { DATABASE_URL: pg.url() }, stop: () => pg.stop() };
    },
  });
});

/** The deploy's audit events in the order they happened (their ids' sequence numbers). */
const auditTrail = (id: string): string[] =>
  pg
    .sql(`SELECT action || coalesce(':' || (detail->>'phase'), '') FROM cutover_audit_events WHERE operation_id = '${id}' ORDER BY split_part(id, ':', 3)::int`)
    .split('\n');

after(async () => {
  await w?.stop();
});

describe('blue-green deploy survives the worker being SIGKILLed', () => {
  test('fault: worker SIGKILLed right after the new slot started -> v2 goes live on green, one process per slot', async () => {
    const id = deployIdOf('3001', 'v2');
    const load = w.startLoad();
    const running = deploy('v2', '3001');
    await waitForStep(w, id, 'health-check');
    // Stop, start and health-check are one activity per host: wait for the new slot itself.
    await eventually('the new slot runs on every host when the worker dies', () => w.appProcesses('green').every((p) => p.length === 1), 60_000, 10);
    await killAndRestart();
    const run = await running;
    const stats = await load.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'green', version: 'v2' }, 'running');
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done']);
    assert.deepEqual(auditTrail(id), [
      'requested',
      'step:reading',
      'step:checking',
      'started',
      'step:preparing',
      'step:starting',
      'step:health-check',
      'step:switching',
      'step:switching',
      'switched',
      'step:verifying',
      'succeeded',
    ], 'every event once, none lost, across the kill');
    assert.equal(pg.sql(`SELECT count(DISTINCT split_part(id, ':', 2)) FROM cutover_audit_events WHERE operation_id = '${id}'`), '1', 'one run');
  });

  test('fault: worker SIGKILLed during the health checks -> the check resumes on the new worker, v3 goes live on blue', async () => {
    const id = deployIdOf('3002', 'v3');
    const load = w.startLoad();
    const running = deploy('v3', '3002');
    await waitForStep(w, id, 'health-check');
    await sleep(2000); // v3 listens only after 8 s: probes are failing and being retried
    assert.deepEqual(w.routed(), ['green:v2', 'green:v2'], 'still health-checking');
    await killAndRestart();
    const run = await running;
    const stats = await load.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'blue', version: 'v3' }, 'running');
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done']);
  });

  test('fault: worker SIGKILLed between switching web1 and web2 -> the switch resumes, v4 on green on both hosts', async () => {
    const id = deployIdOf('3003', 'v4');
    const [web1, web2] = [w.hosts[0]!, w.hosts[1]!];
    const load = w.startLoad();
    const running = deploy('v4', '3003');
    await eventually('web1 switched to green, web2 not yet', () => /color=green/.test(web1.readUpstream()), 90_000, 10);
    await w.worker.kill();
    const web2When = web2.readUpstream().split('\n')[0];
    await sleep(1000);
    await w.worker.start();
    const run = await running;
    const stats = await load.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'green', version: 'v4' }, 'running', `web2 at the kill: ${web2When}`);
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done']);
  });

  test('fault: worker SIGKILLed during the teardown wait -> the old colour is stopped once, after the delay, the new one keeps serving', async () => {
    const id = deployIdOf('3004', 'v5');
    const load = w.startLoad();
    const run = await deploy('v5', '3004', '12s');
    assert.equal(run.code, 0, run.stdout + run.stderr + w.worker.tail());
    const deployedAt = Date.now();
    assertHosts(w, { color: 'blue', version: 'v5' }, 'running', 'green (v4) kept for rollback');
    await killAndRestart(3000);
    await eventually('green (v4) stopped on every host', () => w.appProcesses('green').every((p) => p.length === 0), 60_000, 200);
    assert.ok(Date.now() - deployedAt >= 11_000, 'not before the teardown delay');
    await sleep(1000);
    const stats = await load.stop();
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'blue', version: 'v5' }, 'stopped');
    const state = await w.envState();
    assert.equal(state?.recent.filter((r) => r.id === `${id}:teardown`).map((r) => r.outcome).join(), 'succeeded', 'one teardown');
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done', 'teardown']);
  });
});
