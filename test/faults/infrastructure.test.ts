// Faults in the infrastructure around a deploy, each injected mid-deploy under a steady load of
// 100 req/s through both routers: nginx refusing the new config, the new version crashing after
// its health check, a host unreachable after the other one switched, an SSH connection dropped
// mid-command, the Temporal dev server restarted. Each test asserts on the hosts themselves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxConfigOptions } from '../../sandbox/config';
import {
  assertHosts,
  assertNoFailedRequests,
  assertSlackOnce,
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

/** A config whose health check waits long enough for slow starters (up to 30 s). */
const slowHealth = (name: string, extra: Partial<SandboxConfigOptions> = {}): string =>
  w.config(name, {
    ...extra,
    edit: (env) => void (env.healthCheck = { path: '/health', expectStatus: 200, timeout: '2s', interval: '500ms', attempts: 60 }),
  });

const deploy = (config: string, version: string, pipeline: string): Promise<CliRun> =>
  w.cutover(['-c', config, 'deploy', 'shop', 'prod', version, '--wait'], pipeline);

before(async () => {
  w = await startWorld('faults-infra', {
    v1: undefined,
    v2: { startDelayMs: 4000 },
    v3: { startDelayMs: 6000 },
    // Passes its health check (its first answer), then dies right after its second answer:
    // always after the health check, always before verification can pass.
    crashy: { startDelayMs: 2000, crashAfterRequests: 2 },
    v4: undefined,
  });
});

after(async () => {
  await w?.stop();
});

describe('blue-green deploy survives infrastructure faults', () => {
  test('fault: nginx on web2 refuses the new config -> old config everywhere, new slot stopped, 0 failed requests', async () => {
    const web2 = w.hosts[1]!;
    const conf = join(web2.root, 'nginx', 'nginx.conf');
    const good = readFileSync(conf, 'utf8');
    const upstreamBefore = web2.readUpstream();
    writeFileSync(conf, `${good}\nthis_is_not_a_directive on;\n`);
    const load = w.startLoad();
    let run: CliRun;
    try {
      run = await deploy(w.config('plain'), 'v4', '2001');
    } finally {
      writeFileSync(conf, good);
    }
    const stats = await load.stop();
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /web2: nginx refused the new config/);
    assertNoFailedRequests(stats);
    assert.equal(web2.readUpstream(), upstreamBefore, 'web2 upstream file untouched byte for byte');
    assertHosts(w, { color: 'blue', version: 'v1' }, 'stopped', 'web1 switched back, green stopped');
    assert.deepEqual(slackEvents(w, deployIdOf('2001', 'v4')), ['started', 'rolled-back']);
  });

  test('fault: the new version crashes right after passing its health check -> verification catches it, traffic back on blue, 0 failed requests', async () => {
    const load = w.startLoad();
    const run = await deploy(slowHealth('crashy'), 'crashy', '2002');
    const stats = await load.stop();
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /no 5 answers in a row through nginx came from crashy/, 'verification through the routers caught it');
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'blue', version: 'v1' }, 'stopped');
    assert.deepEqual(slackEvents(w, deployIdOf('2002', 'crashy')), ['started', 'switched', 'rolled-back']);
  });

  test('fault: web2 unreachable over ssh (~6 s) right after web1 switched, new version crashing -> both hosts end on blue', async () => {
    const [web1, web2] = [w.hosts[0]!, w.hosts[1]!];
    const load = w.startLoad();
    const running = deploy(slowHealth('crashy-unreachable'), 'crashy', '2003');
    let cut = false;
    try {
      await eventually('web1 switched to green', () => /color=green/.test(web1.readUpstream()), 90_000, 20);
      await web2.stopSsh();
      cut = true;
      const web2Upstream = web2.readUpstream();
      await sleep(6_000);
      await web2.startSsh();
      cut = false;
      const run = await running;
      const stats = await load.stop();
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assertNoFailedRequests(stats);
      assertHosts(w, { color: 'blue', version: 'v1' }, 'stopped', `web2 upstream when cut: ${web2Upstream.split('\n')[0]}`);
      assertSlackOnce(w, deployIdOf('2003', 'crashy'));
    } finally {
      if (cut) await web2.startSsh();
    }
  });

  test('fault: ssh to web1 killed and restarted during the health check -> the check is retried and v2 goes live', async () => {
    const web1 = w.hosts[0]!;
    const id = deployIdOf('2004', 'v2');
    const load = w.startLoad();
    const running = deploy(slowHealth('ssh-drop'), 'v2', '2004');
    await waitForStep(w, id, 'health-check');
    await sleep(1000);
    assert.equal(w.routed()[0], 'blue:v1', 'still checking health when the connection drops');
    await web1.stopSsh(); // kills sshd and every per-connection child: the health probe's session is cut
    await sleep(500);
    await web1.startSsh();
    const run = await running;
    const stats = await load.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'green', version: 'v2' }, 'running');
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done']);
  });

  test('fault: Temporal dev server stopped and restarted (same SQLite file) during the health check -> v3 goes live, the re-run CI job reaches the same run', async (t) => {
    const id = deployIdOf('2005', 'v3');
    const config = slowHealth('devserver');
    const load = w.startLoad();
    const first = deploy(config, 'v3', '2005');
    await waitForStep(w, id, 'health-check');
    await sleep(1000);
    await w.server.restart();
    let run = await first;
    const runs = [run];
    // A CLI that lost Temporal exits 3; CI retries the job with the same pipeline id.
    for (let i = 0; i < 3 && run.code === 3; i++) {
      run = await deploy(config, 'v3', '2005');
      runs.push(run);
    }
    const stats = await load.stop();
    assert.equal(run.code, 0, runs.map((r) => `exit ${r.code}\n${r.stdout}${r.stderr}`).join('\n---\n'));
    assert.match(run.stdout, /deployed shop\/prod v3 on blue/);
    t.diagnostic(`CLI runs: ${runs.map((r) => `exit ${r.code}`).join(', ')}`);
    assertNoFailedRequests(stats);
    assertHosts(w, { color: 'blue', version: 'v3' }, 'running');
    assert.deepEqual(slackEvents(w, id), ['started', 'switched', 'done']);
    const state = await w.envState();
    assert.equal(state?.recent.filter((r) => r.id === id).length, 1, 'one run for the pipeline');
  });
});
