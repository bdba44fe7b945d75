// A production-shaped worker on loopback: it reaches Temporal over mTLS (the dev server behind a
// TLS-terminating proxy that requires a client certificate) and serves Prometheus metrics on
// CUTOVER_METRICS_ADDRESS. The CLI deploys over mTLS too; the metrics endpoint is scraped
// after each operation: cutover's own counters and histogram next to the SDK's runtime metrics.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../sandbox/procs';
import type { SandboxConfigOptions } from '../../sandbox/config';
import { eventually, startWorld, type CliRun, type World } from '../support/world';
import { makeTestPki, startTlsProxy, type TestPki, type TlsProxy } from '../support/tls-proxy';

let w: World;
let pki: TestPki;
let proxy: TlsProxy;
let metricsUrl: string;

before(async () => {
  w = await startWorld('secure', { v1: undefined, v2: undefined, v3: undefined }, {
    worker: async (server, dir) => {
      pki = makeTestPki(join(dir, 'pki'));
      proxy = await startTlsProxy({ upstream: server.address, pki, requireClientCert: true });
      const metrics = `127.0.0.1:${await freePort()}`;
      metricsUrl = `http://${metrics}/metrics`;
      return {
        env: {
          TEMPORAL_ADDRESS: proxy.address,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
          TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
          TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
          TEMPORAL_TLS_SERVER_NAME: pki.serverName,
          CUTOVER_METRICS_ADDRESS: metrics,
        },
        stop: () => proxy.close(),
      };
    },
  });
});

after(async () => {
  await w?.stop();
});

/** The CLI over mTLS as well: cutover.yml's temporal section points at the proxy. */
const config = (name: string, opts: Partial<SandboxConfigOptions> = {}): string =>
  w.config(name, {
    temporal: { address: proxy.address, uiUrl: w.server.uiUrl, tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey, serverName: pki.serverName } },
    ...opts,
  });

const cutover = (args: string[], pipeline: string): Promise<CliRun> => w.cutover(args, pipeline);

/** Prometheus text → `name{labels}` → value, labels sorted by name. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  const text = await res.text();
  writeFileSync(join(w.dir, 'metrics.txt'), text); // the last scrape, to read when a test fails
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort();
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}

/** The sum of every series of `name` whose labels include all of `want`. */
function value(metrics: Map<string, number>, name: string, want: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const [key, v] of metrics) {
    if (!key.startsWith(`${name}{`)) continue;
    if (!Object.entries(want).every(([k, val]) => key.includes(`${k}="${val}"`))) continue;
    sum = (sum ?? 0) + v;
  }
  return sum;
}

const shop = { app: 'shop', env: 'prod' };

describe('a worker over mTLS, with metrics', () => {
  test('the worker polls through the mTLS proxy and the CLI deploys through it', async () => {
    assert.match(w.worker.tail(), /cutover worker polling task queue cutover on 127\.0\.0\.1:\d+ \(namespace default, mTLS\)/);
    const run = await cutover(['-c', config('mtls'), 'deploy', 'shop', 'prod', 'v2', '--wait'], '3001');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.deepEqual(w.served(), ['200 v2', '200 v2']);
    assert.ok(proxy.clientSubjects.length > 0 && proxy.clientSubjects.every((s) => s === 'client'), `client certificates: ${[...new Set(proxy.clientSubjects)].join(', ')}`);
    assert.deepEqual(proxy.handshakeErrors, []);
  });

  test('after the deploy: its counter and duration histogram, and the SDK runtime metrics, on the one endpoint', async () => {
    const m = await scrape();
    const ok = { ...shop, strategy: 'blue-green', outcome: 'succeeded' };
    assert.equal(value(m, 'cutover_deploys_total', ok), 1, `one successful deploy counted; cutover series: ${[...m.keys()].filter((k) => k.startsWith('cutover_')).join('\n')}`);
    assert.equal(value(m, 'cutover_deploy_duration_seconds_count', ok), 1);
    const seconds = value(m, 'cutover_deploy_duration_seconds_sum', ok) ?? 0;
    assert.ok(seconds > 0.1 && seconds < 120, `duration ${seconds} s`);
    assert.equal(value(m, 'cutover_deploy_duration_seconds_bucket', { ...ok, le: '120' }), 1, 'seconds buckets (cutover sets them)');
    assert.equal(value(m, 'cutover_deploy_duration_seconds_bucket', { ...ok, le: '0.1' }), undefined);
    for (const sdk of ['temporal_worker_task_slots_available', 'temporal_workflow_task_schedule_to_start_latency_count', 'temporal_sticky_cache_size']) {
      assert.ok(value(m, sdk) !== undefined, `${sdk} is exported; got ${[...m.keys()].filter((k) => k.startsWith('temporal_')).map((k) => k.split('{')[0]).filter((k, i, a) => a.indexOf(k) === i).join(', ')}`);
    }
  });

  test('a rollback, a refused deploy and a teardown are counted', async () => {
    const rollback = await cutover(['-c', config('mtls'), 'rollback', 'shop', 'prod', '--wait'], '3002');
    assert.equal(rollback.code, 0, rollback.stderr);
    const refused = await cutover(['-c', config('mtls'), 'deploy', 'shop', 'prod', 'v9', '--wait'], '3003');
    assert.equal(refused.code, 2, refused.stderr);
    const quick = await cutover(['-c', config('quick', { teardownDelay: '1s' }), 'deploy', 'shop', 'prod', 'v3', '--wait'], '3004');
    assert.equal(quick.code, 0, quick.stderr);
    let m = new Map<string, number>();
    await eventually('the teardown after 1 s is counted', async () => {
      m = await scrape();
      return value(m, 'cutover_teardowns_total', { ...shop, outcome: 'succeeded' }) === 1;
    });
    assert.equal(value(m, 'cutover_rollbacks_total', { ...shop, outcome: 'succeeded' }), 1);
    assert.equal(value(m, 'cutover_deploys_total', { ...shop, outcome: 'refused' }), 1);
    assert.equal(value(m, 'cutover_refusals_total', { ...shop, reason: 'VersionNotInstalled' }), 1);
    assert.equal(value(m, 'cutover_deploys_total', { ...shop, strategy: 'blue-green', outcome: 'succeeded' }), 2);
    assert.equal(value(m, 'cutover_deploy_duration_seconds_count', shop), 3, 'every deploy is timed, refused ones too');
  });

  test('a restarted worker replays the environment without counting anything again', async () => {
    const before = await scrape();
    await w.worker.stop();
    await w.worker.start();
    // The new worker replays env/shop/prod when it next runs a task for it: a status query does.
    const status = await cutover(['-c', config('mtls'), 'status', 'shop', 'prod'], '3005');
    assert.equal(status.code, 0, status.stderr);
    const m = await scrape();
    assert.equal(value(m, 'cutover_deploys_total', shop) ?? 0, 0, 'a new process starts from zero and replay adds nothing');
    assert.ok((value(before, 'cutover_deploys_total', shop) ?? 0) >= 3);
  });
});
