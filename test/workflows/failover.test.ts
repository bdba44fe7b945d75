// The failover and monitor workflows on the time-skipping server, with databases, DNS, app
// servers and probes modelled in memory (test/support/fakes/failover.ts): the happy path, the
// lag gate (refusal, catch-up, override), an unreachable old primary under each rule, a DNS API
// failing before it works, abort with compensation (and refused after promotion), and the
// monitor: flapping probes open nothing, an incident waits for confirm or fails over itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  failbackWorkflowId,
  failoverAbortUpdate,
  failoverConfirmUpdate,
  failoverStateQuery,
  failoverWorkflowId,
  monitorStateQuery,
  monitorWorkflowId,
  type FailbackResult,
  type FailoverRequest,
  type FailoverResult,
  type FailoverSpec,
  type MonitorRequest,
} from '../../contract/failover';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { causes } from '../support/envs';
import { HISTORY_DIR } from '../support/histories';
import { fakeFailoverSpec } from '../support/failover-spec';
import { FakeWorld } from '../support/fakes/world';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let n = 0;

before(async () => {
  bundle = await bundleWorkflows();
  testEnv = await startTimeSkipping();
});
after(async () => {
  await testEnv?.teardown();
});

async function withWorker<T>(world: FakeWorld, fn: (taskQueue: string, site: string) => Promise<T>): Promise<T> {
  const taskQueue = `failover-${++n}`;
  const worker = await Worker.create({ connection: testEnv.nativeConnection, taskQueue, workflowBundle: bundle, activities: world.activities() });
  return worker.runUntil(fn(taskQueue, `shop${n}`));
}

/** With RECORD_HISTORIES=1, keep this run's history for test/workflows/replay.test.ts. */
async function record(h: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = JSON.parse(historyToJSON(await h.fetchHistory())) as unknown;
  writeFileSync(join(HISTORY_DIR, `${name}.json`), JSON.stringify({ workflowId: h.workflowId, history }, null, 1));
}

function request(spec: FailoverSpec, extra: Partial<FailoverRequest> = {}): FailoverRequest {
  return { spec, id: 'test', by: 'alice', reason: 'region down', acceptDataLoss: false, ...extra };
}

function startFailover(taskQueue: string, req: FailoverRequest) {
  return testEnv.client.workflow.start('failoverWorkflow', { taskQueue, workflowId: failoverWorkflowId(req.spec.site, req.id), args: [req] });
}

async function failureOf(p: Promise<unknown>): Promise<{ type: string | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = err.cause as Error & { type?: string };
    return { type: cause?.type, message: causes(err) };
  }
  assert.fail('expected the workflow to fail');
}

describe('failover workflow', () => {
  test('happy path: fences, gates, promotes once, scales, repoints DNS, smoke-tests, declares with RTO/RPO and step durations', async () => {
    const world = new FakeWorld([]);
    const dr = world.dr;
    dr.dns = ['203.0.113.10'];
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site);
      const h = await startFailover(tq, request(spec, { detectedAt: Date.now() - 30_000 }));
      const r = (await h.result()) as FailoverResult;
      assert.deepEqual(r.steps.map((s) => s.step), ['fence', 'lag-gate', 'promote', 'scale', 'dns', 'smoke', 'declare']);
      assert.ok(r.steps.every((s) => typeof s.ms === 'number' && s.ms >= 0 && s.summary !== 'running'), JSON.stringify(r.steps));
      assert.ok(r.rtoMs >= 30_000, `RTO counts from detection: ${r.rtoMs}`);
      assert.deepEqual(r.rpo, { bytes: 0, seconds: 0 });
      assert.deepEqual(r.dnsAnswer, ['198.51.100.20']);
      assert.deepEqual(r.warnings, []);
      assert.equal(r.phase, 'done');
      assert.equal(dr.db('fra').running, false, 'old primary fenced');
      assert.equal(dr.db('ams').inRecovery, false);
      assert.equal(dr.promotions, 1);
      assert.deepEqual([...dr.appServers].sort(), ['ams-app1', 'ams-app2']);
      assert.deepEqual(dr.dns, ['198.51.100.20']);
      assert.deepEqual(dr.calls.slice(0, 3), ['pgFence', 'pgLag', 'pgPromote'], 'fence before anything else');
      assert.ok(world.slack.some((m) => m.text.includes('failover of') && m.text.includes('started by alice')));
      assert.ok(world.slack.some((m) => m.text.includes('is the primary now')));
      const state = await h.query(failoverStateQuery);
      assert.equal(state.promoted, true);
      await record(h, 'failover-succeeded');
    });
  });

  test('with the audit log on, every step is recorded under the site, the person who started it the actor, ending in failed-over', async () => {
    const world = new FakeWorld([]);
    world.dr.dns = ['203.0.113.10'];
    await withWorker(world, async (tq, site) => {
      const spec = { ...fakeFailoverSpec(site), audit: true };
      const h = await startFailover(tq, request(spec, { detectedAt: Date.now() - 30_000 }));
      await h.result();
      const rows = [...world.audit.rows.values()].sort((a, b) => a.id.localeCompare(b.id));
      const trail = rows.map((r) => (r.action === 'step' ? String(r.detail.phase) : r.action));
      assert.equal(trail[0], 'requested');
      assert.equal(trail.at(-1), 'failed-over');
      for (const step of ['fence', 'lag-gate', 'promote', 'scale', 'dns', 'smoke', 'declare']) assert.ok(trail.includes(step), `${step} in ${trail.join(', ')}`);
      assert.ok(rows.every((r) => r.operation === 'failover' && r.app === site && r.env === spec.standby.name && r.actor === 'alice'));
      assert.equal(rows.at(-1)!.outcome, 'succeeded');
      assert.equal(typeof rows.at(-1)!.detail.rtoMs, 'number');
    });
  });

  test('lag gate: above the limit it refuses, promotes nothing and starts the old primary again', async () => {
    const world = new FakeWorld([]);
    const dr = world.dr;
    dr.lagBytes = 5 * 1024 * 1024;
    dr.lagSeconds = 12;
    await withWorker(world, async (tq, site) => {
      const f = await failureOf(startFailover(tq, request(fakeFailoverSpec(site))).then((h) => h.result()));
      assert.equal(f.type, 'FailoverLagTooHigh');
      assert.match(f.message, /5\.0 MiB behind \(limit 1024 bytes\).*12\.0 s behind.*--accept-data-loss/);
      assert.equal(dr.promotions, 0);
      assert.equal(dr.db('fra').running, true, 'the fence was undone');
      assert.ok(dr.calls.filter((c) => c === 'pgLag').length >= 2, 'gave the standby time to catch up first');
      assert.ok(!dr.calls.includes('dnsRepoint') && !dr.calls.includes('appServersStart'));
    });
  });

  test('lag gate: a standby that catches up within the grace passes without a warning', async () => {
    const world = new FakeWorld([]);
    world.dr.lagBytes = 4096;
    world.dr.lagSeconds = 2;
    world.dr.lagAfterReadings.push(1000, 0);
    await withWorker(world, async (tq, site) => {
      const r = (await (await startFailover(tq, request(fakeFailoverSpec(site)))).result()) as FailoverResult;
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(r.rpo, { bytes: 0, seconds: 0 });
      assert.equal(world.dr.calls.filter((c) => c === 'pgLag').length, 3);
    });
  });

  test('lag gate: --accept-data-loss promotes anyway, with the RPO estimate and a warning', async () => {
    const world = new FakeWorld([]);
    world.dr.lagBytes = 5 * 1024 * 1024;
    world.dr.lagSeconds = 12;
    await withWorker(world, async (tq, site) => {
      const r = (await (await startFailover(tq, request(fakeFailoverSpec(site), { acceptDataLoss: true }))).result()) as FailoverResult;
      assert.equal(r.rpo?.bytes, 5 * 1024 * 1024);
      assert.equal(r.rpo?.seconds, 12);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /data loss accepted: 5\.0 MiB behind/);
      assert.equal(world.dr.promotions, 1);
      assert.ok(world.slack.some((m) => m.text.includes(':warning: promoted with data loss accepted')));
    });
  });

  test('unreachable old primary, rule fail: keeps trying for the configured time, then fails with nothing promoted', async () => {
    const world = new FakeWorld([]);
    world.dr.sshUp = false;
    await withWorker(world, async (tq, site) => {
      const f = await failureOf(startFailover(tq, request(fakeFailoverSpec(site, { gates: { unreachablePrimary: { waitMs: 60_000, then: 'fail' } } }))).then((h) => h.result()));
      assert.equal(f.type, 'FailoverNotFenced');
      assert.match(f.message, /cannot fence fra: .*ssh unreachable.*tried for 60 s.*nothing was promoted/);
      assert.ok(world.dr.calls.filter((c) => c === 'pgFence').length >= 10, `tried every 5 s: ${world.dr.calls.length}`);
      assert.equal(world.dr.promotions, 0);
    });
  });

  test('unreachable old primary, rule proceed: fails over with a loud warning in Slack and the result', async () => {
    const world = new FakeWorld([]);
    world.dr.sshUp = false;
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, { gates: { unreachablePrimary: { waitMs: 10_000, then: 'proceed' } } });
      const r = (await (await startFailover(tq, request(spec))).result()) as FailoverResult;
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /fra was NOT fenced .*ITS DATABASE STILL ACCEPTS WRITES/);
      assert.ok(world.slack.some((m) => m.text.includes('NOT fenced')));
      assert.equal(world.dr.promotions, 1);
      assert.equal(r.steps[0]?.summary.startsWith('NOT fenced'), true);
    });
  });

  test('an old primary that comes back during the failover is stopped again before the failover is declared, with a warning', async () => {
    const world = new FakeWorld([]);
    world.dr.before = async (a) => {
      if (a === 'dnsRepoint') world.dr.db('fra').running = true; // its host restarted PostgreSQL
    };
    await withWorker(world, async (tq, site) => {
      const r = (await (await startFailover(tq, request(fakeFailoverSpec(site)))).result()) as FailoverResult;
      assert.equal(world.dr.db('fra').running, false);
      assert.equal(world.dr.calls.filter((c) => c === 'pgFence').length, 2);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /fra's database came back during the failover .* stopped again/);
    });
  });

  test('with the durable fence (fence.dataDir) an old primary that comes back is read-only: stopped again, no warning, the declare step says so', async () => {
    const world = new FakeWorld([]);
    world.dr.before = async (a) => {
      if (a === 'dnsRepoint') world.dr.db('fra').running = true;
    };
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site);
      spec.primary.fence = { ...spec.primary.fence, dataDir: '/var/lib/postgresql/15/main' };
      const r = (await (await startFailover(tq, request(spec))).result()) as FailoverResult;
      assert.equal(world.dr.db('fra').running, false);
      assert.deepEqual(r.warnings, []);
      assert.match(r.steps.find((s) => s.step === 'declare')!.summary, /fra fenced \(it had come back read-only: the standby\.signal fence held; stopped again\)/);
    });
  });

  test('a DNS API that fails twice is retried; the record is changed once and the failover completes', async () => {
    const world = new FakeWorld([]);
    world.dr.dnsFailures = 2;
    await withWorker(world, async (tq, site) => {
      const r = (await (await startFailover(tq, request(fakeFailoverSpec(site)))).result()) as FailoverResult;
      assert.equal(world.dr.dnsCalls, 3);
      assert.deepEqual(r.dnsAnswer, ['198.51.100.20']);
      assert.equal(world.dr.promotions, 1);
    });
  });

  test('Vultr standby: a create that fails half-way is retried without an orphan; DNS takes the instances\' IPs', async () => {
    const world = new FakeWorld([]);
    world.dr.vultrCreateFailures = 1;
    world.dr.vultr.push({ id: 'old', label: 'ams-app-1', main_ip: '192.0.2.200', status: 'active', power_status: 'running', server_status: 'ok', tags: ['shop-standby'] });
    await withWorker(world, async (tq, site) => {
      const base = fakeFailoverSpec(site);
      const spec: FailoverSpec = {
        ...base,
        standby: {
          ...base.standby,
          dnsContent: [],
          appServers: { kind: 'vultr', apiKeyEnv: 'VULTR_API_KEY', region: 'ams', plan: 'vc2-1c-1gb', snapshotId: 'snap-1', count: 3, tag: 'shop-standby', label: 'ams-app', healthUrl: 'http://{{address}}:8080/health' },
        },
      };
      const r = (await (await startFailover(tq, request(spec))).result()) as FailoverResult;
      assert.deepEqual(world.dr.vultr.map((i) => i.label).sort(), ['ams-app-1', 'ams-app-2', 'ams-app-3'], 'one instance per label: the retry created no second ams-app-2');
      assert.equal(world.dr.calls.filter((c) => c === 'vultrScale').length, 2);
      assert.deepEqual(r.dnsAnswer, ['192.0.2.2', '192.0.2.200', '192.0.2.3']);
      assert.match(r.steps.find((s) => s.step === 'scale')!.summary, /1 Vultr instance\(s\) created, 2 reused/);
    });
  });

  test('Vultr DNS: the DNS step goes through the Vultr API instead of PowerDNS', async () => {
    const world = new FakeWorld([]);
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, {
        dns: { kind: 'vultr', apiKeyEnv: 'VULTR_API_KEY', domain: 'example.test', nameserver: { address: '127.0.0.1', port: 53 }, name: 'app.example.test.', type: 'A', ttlSeconds: 60 },
      });
      const r = (await (await startFailover(tq, request(spec))).result()) as FailoverResult;
      assert.deepEqual(r.dnsAnswer, ['198.51.100.20']);
      assert.ok(world.dr.calls.includes('vultrDnsRepoint') && !world.dr.calls.includes('dnsRepoint'));
    });
  });

  test('abort before promotion undoes the fence; abort after promotion is refused', async () => {
    const world = new FakeWorld([]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    world.dr.before = async (a) => {
      if (a === 'pgLag') await held;
    };
    await withWorker(world, async (tq, site) => {
      const h = await startFailover(tq, request(fakeFailoverSpec(site)));
      for (let i = 0; i < 200 && !world.dr.calls.includes('pgLag'); i++) await new Promise((r) => setTimeout(r, 50));
      const state = await h.executeUpdate(failoverAbortUpdate, { args: [{ by: 'bob', reason: 'false alarm' }] });
      assert.equal(state.promoted, false);
      release();
      const f = await failureOf(h.result());
      assert.equal(f.type, 'FailoverAborted');
      assert.match(f.message, /aborted by bob: false alarm/);
      assert.equal(world.dr.promotions, 0);
      assert.equal(world.dr.db('fra').running, true, 'the old primary was started again');
      assert.ok(world.dr.calls.includes('pgUnfence'));
      assert.equal((await h.query(failoverStateQuery)).phase, 'aborted');
    });

    const world2 = new FakeWorld([]);
    let release2!: () => void;
    const held2 = new Promise<void>((r) => (release2 = r));
    world2.dr.before = async (a) => {
      if (a === 'appServersStart') await held2;
    };
    await withWorker(world2, async (tq, site) => {
      const h = await startFailover(tq, request(fakeFailoverSpec(site)));
      for (let i = 0; i < 200 && !world2.dr.calls.includes('appServersStart'); i++) await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(h.executeUpdate(failoverAbortUpdate, { args: [{ by: 'bob' }] }), (err: unknown) => err instanceof WorkflowUpdateFailedError && /can only go forward/.test(causes(err)));
      release2();
      const r = (await h.result()) as FailoverResult;
      assert.equal(r.phase, 'done');
    });
  });
});

describe('failback workflow', () => {
  test('after a failover: re-seeds the old primary, waits for it, and fails over back to it', async () => {
    const world = new FakeWorld([]);
    const dr = world.dr;
    dr.dns = ['203.0.113.10'];
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site);
      await (await startFailover(tq, request(spec))).result();
      assert.equal(dr.db('fra').running, false);
      dr.lagBytes = 4096;
      dr.lagAfterReadings.push(0);
      const h = await testEnv.client.workflow.start('failbackWorkflow', { taskQueue: tq, workflowId: failbackWorkflowId(site, 'back'), args: [request(spec, { id: 'back' })] });
      const r = (await h.result()) as FailbackResult;
      assert.equal(r.reseeded, true);
      assert.equal(r.failover.from, 'ams');
      assert.equal(r.failover.to, 'fra');
      assert.deepEqual(r.failover.dnsAnswer, ['203.0.113.10']);
      assert.equal(dr.promotions, 2);
      assert.equal(dr.db('fra').inRecovery, false);
      assert.equal(dr.db('ams').running, false, 'the promoted standby was fenced before fra was promoted');
      assert.ok(dr.calls.indexOf('pgReseed') < dr.calls.lastIndexOf('pgPromote'));
      await record(h, 'failback-succeeded');
    });
  });
});

describe('monitor workflow', () => {
  function startMonitor(tq: string, spec: FailoverSpec) {
    return testEnv.client.workflow.start('monitorWorkflow', { taskQueue: tq, workflowId: monitorWorkflowId(spec.site), args: [{ spec } satisfies MonitorRequest] });
  }

  test('flapping probes below the threshold open nothing; confirm without an incident is refused', async () => {
    const world = new FakeWorld([]);
    world.dr.probeScript.push(false, false, true, false, true, false, false, true, true);
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, { pagerDuty: { url: 'http://127.0.0.1:1/pd', routingKeyEnv: 'PD_KEY' } });
      const h = await startMonitor(tq, spec);
      for (let i = 0; i < 400 && world.dr.probeScript.length > 0; i++) await testEnv.sleep(spec.probe.intervalMs);
      const state = await h.query(monitorStateQuery);
      assert.equal(state.phase, 'watching');
      assert.equal(state.incident, null);
      assert.equal(world.dr.pages.length, 0);
      assert.ok(!world.dr.calls.includes('pgFence'));
      await assert.rejects(h.executeUpdate(failoverConfirmUpdate, { args: [{ by: 'alice' }] }), (err: unknown) => err instanceof WorkflowUpdateFailedError && /no incident is open/.test(causes(err)));
      await h.terminate('test over');
    });
  });

  test('N failures in a row open an incident (Slack with a Confirm failover button, page) and wait for a confirmer\'s confirm, then fail over', async () => {
    const world = new FakeWorld([]);
    world.dr.healthy = false;
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, { pagerDuty: { url: 'http://127.0.0.1:1/pd', routingKeyEnv: 'PD_KEY' }, confirmers: ['alice'] });
      const h = await startMonitor(tq, spec);
      for (let i = 0; i < 400 && world.dr.pages.length === 0; i++) await testEnv.sleep(spec.probe.intervalMs);
      const state = await h.query(monitorStateQuery);
      assert.equal(state.phase, 'incident');
      assert.equal(state.failuresInRow, 3);
      assert.equal(world.dr.pages.length, 1);
      assert.equal(world.dr.pages[0]?.action, 'trigger');
      assert.equal(state.incident?.failoverId, null);
      assert.ok(world.slack.some((m) => m.text.includes('incident') && m.text.includes('cutover failover confirm')));
      const button = world.slack.find((m) => m.failoverButton);
      assert.deepEqual(button?.failoverButton, { monitorId: monitorWorkflowId(site), site, standby: 'ams' });
      assert.match(button!.text, /Confirm here \(alice\)/);
      await testEnv.sleep(60_000);
      assert.ok(!world.dr.calls.includes('pgFence'), 'waits for confirmation');
      await assert.rejects(h.executeUpdate(failoverConfirmUpdate, { args: [{ by: 'mallory' }] }), (err: unknown) => err instanceof WorkflowUpdateFailedError && /mallory may not confirm a failover of shop\d+ \(confirmers: alice\)/.test(causes(err)));
      assert.equal((await h.query(monitorStateQuery)).phase, 'incident');
      await h.executeUpdate(failoverConfirmUpdate, { args: [{ by: 'alice' }] });
      const r = (await h.result()) as FailoverResult;
      assert.equal(r.phase, 'done');
      assert.equal(world.dr.promotions, 1);
      assert.ok(r.rtoMs >= 60_000, `RTO from the first failed probe: ${r.rtoMs}`);
      await record(h, 'monitor-confirmed');
    });
  });

  test('an open incident closes when the primary answers as many probes in a row; a single good probe closes nothing', async () => {
    const world = new FakeWorld([]);
    world.dr.probeScript.push(false, false, false, true, false, true, true);
    world.dr.healthy = true;
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, { pagerDuty: { url: 'http://127.0.0.1:1/pd', routingKeyEnv: 'PD_KEY' } });
      const h = await startMonitor(tq, spec);
      for (let i = 0; i < 400 && world.dr.pages.length === 0; i++) await testEnv.sleep(spec.probe.intervalMs);
      assert.equal((await h.query(monitorStateQuery)).phase, 'incident');
      for (let i = 0; i < 400 && world.dr.pages.length < 2; i++) await testEnv.sleep(spec.probe.intervalMs);
      const state = await h.query(monitorStateQuery);
      assert.equal(state.phase, 'watching');
      assert.equal(state.incident, null);
      assert.deepEqual(world.dr.pages.map((p) => p.action), ['trigger', 'resolve']);
      assert.equal(world.dr.pages[0]?.dedupKey, world.dr.pages[1]?.dedupKey);
      assert.equal(world.dr.probeScript.length, 0, 'it took three good probes in a row (the one before the last failure did not count)');
      assert.ok(world.slack.some((m) => m.text.includes('recovered; incident closed without a failover')));
      assert.ok(!world.dr.calls.includes('pgFence'));
      await h.terminate('test over');
    });
  });

  test('auto: the incident starts the failover itself', async () => {
    const world = new FakeWorld([]);
    world.dr.probeScript.push(true, false, false, false);
    world.dr.healthy = false;
    await withWorker(world, async (tq, site) => {
      const spec = fakeFailoverSpec(site, { auto: true });
      const h = await startMonitor(tq, spec);
      const r = (await h.result()) as FailoverResult;
      assert.equal(r.phase, 'done');
      assert.equal(world.dr.promotions, 1);
      assert.equal(world.dr.calls.filter((c) => c === 'httpProbe').length, 4);
      assert.ok(r.rtoMs >= 2 * spec.probe.intervalMs, `RTO counts from the first failed probe: ${r.rtoMs}`);
    });
  });
});
