// The prometheus activity against a real Prometheus scraping real sample apps on loopback:
// v1 is healthy, v2 answers 20% of requests with 500, v3 takes 300 ms per request, v4 gets none.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createPrometheusActivities, type PrometheusDeps } from '../../activities/prometheus';
import type { Measurement, QueryVars } from '../../contract/analysis';
import type { FailIf, PrometheusMetric } from '../../contract/spec';
import { freePort, isAlive, sleep, spawnDaemon, waitForTcp, type Daemon } from '../../sandbox/procs';
import { startPrometheus, type SandboxPrometheus } from '../../sandbox/prometheus';
import type { Behaviour } from '../../sandbox/world';

const ERROR_RATIO =
  'sum(rate(http_requests_total{version="{{version}}",code=~"5.."}[30s])) / sum(rate(http_requests_total{version="{{version}}"}[30s]))';
const P99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="{{version}}"}[30s])))';
const SERVER_JS = join(__dirname, '..', '..', 'sandbox', 'app', 'server.js');

interface App {
  version: string;
  port: number;
  daemon: Daemon;
}

async function startApp(root: string, version: string, color: string, behaviour?: Behaviour): Promise<App> {
  const dir = join(root, 'releases', version);
  mkdirSync(dir, { recursive: true });
  copyFileSync(SERVER_JS, join(dir, 'server.js'));
  if (behaviour) writeFileSync(join(dir, 'behaviour.json'), JSON.stringify(behaviour));
  const port = await freePort();
  const args = [join(dir, 'server.js'), '--port', String(port), '--version', version, '--color', color, '--host', '127.0.0.1'];
  const daemon = spawnDaemon(process.execPath, args, join(dir, 'app.log'));
  await waitForTcp(`app ${version}`, '127.0.0.1', port, 10_000, () => (daemon.isRunning() ? undefined : 'exited'));
  return { version, port, daemon };
}

/** One GET without keep-alive; resolves with the status (0 when it failed). */
const hit = (port: number): Promise<number> =>
  new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });

/** Steady bounded traffic: one request every `everyMs` to each app until stopped or `max` each. */
function traffic(ports: number[], everyMs: number, max: number): { stop(): Promise<void>; sent(): number } {
  let sent = 0;
  const inFlight = new Set<Promise<number>>();
  const timer = setInterval(() => {
    for (const port of ports) {
      if (sent >= max * ports.length) return;
      sent++;
      const p = hit(port);
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
    }
  }, everyMs);
  return {
    sent: () => sent,
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}

const measure = (url: string, query: string, failIf: FailIf, version: string, deps: PrometheusDeps = {}): Promise<Measurement> => {
  const metric: PrometheusMetric = { kind: 'prometheus', name: 'canary', url, query, failIf };
  const vars: QueryVars = { app: 'shop', env: 'test', version, color: 'green', stableVersion: 'v1' };
  return createPrometheusActivities(deps).measurePrometheus({ metric, vars });
};

describe('prometheus activity against a real Prometheus and sample apps', () => {
  const root = mkdtempSync(join(tmpdir(), 'cutover-prom-'));
  const apps: App[] = [];
  let prom: SandboxPrometheus;
  let load: ReturnType<typeof traffic>;
  let stand: Server; // answers nothing: for the timeout case
  const pids: number[] = [];

  before(async () => {
    apps.push(await startApp(root, 'v1', 'blue'));
    apps.push(await startApp(root, 'v2', 'green', { errorRate: 0.2 }));
    apps.push(await startApp(root, 'v3', 'green', { latencyMs: 300 }));
    apps.push(await startApp(root, 'v4', 'blue')); // up, scraped, but no traffic
    const started = Date.now();
    prom = await startPrometheus({ dir: join(root, 'prometheus'), targets: apps.map((a) => `127.0.0.1:${a.port}`) });
    pids.push(prom.pid, ...apps.map((a) => a.daemon.child.pid ?? 0));
    load = traffic(apps.slice(0, 3).map((a) => a.port), 100, 150); // 10 req/s each, at most 15 s
    // Enough requests in the window that one 500 more or less barely moves the ratio.
    for (const v of ['v1', 'v2', 'v3']) await prom.waitForData(`sum(increase(http_requests_total{version="${v}"}[30s])) >= 50`, 30_000);
    console.log(`prometheus: ready and with data for all apps ${Date.now() - started} ms after start, ${load.sent()} requests sent`);
  });

  after(async () => {
    await load?.stop();
    await Promise.all([prom?.stop(), ...apps.map((a) => a.daemon.stop())]);
    stand?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('error ratio: fails for v2 near 0.2, passes for v1', async () => {
    const v2 = await measure(prom.url, ERROR_RATIO, { op: '>', value: 0.05 }, 'v2');
    assert.equal(v2.verdict, 'fail', v2.detail);
    assert.ok(v2.value !== null && Math.abs(v2.value - 0.2) < 0.05, `v2 error ratio ${v2.value}`);
    assert.equal(v2.threshold, 'fail if > 0.05');
    const v1 = await measure(prom.url, ERROR_RATIO, { op: '>', value: 0.05 }, 'v1');
    assert.equal(v1.verdict, 'pass', v1.detail);
    assert.equal(v1.value, 0);
  });

  it('p99 latency: fails > 0.2 for v3, passes for v1', async () => {
    const v3 = await measure(prom.url, P99, { op: '>', value: 0.2 }, 'v3');
    assert.equal(v3.verdict, 'fail', v3.detail);
    assert.ok(v3.value !== null && v3.value >= 0.3 && v3.value <= 0.4, `v3 p99 ${v3.value}`);
    const v1 = await measure(prom.url, P99, { op: '>', value: 0.2 }, 'v1');
    assert.equal(v1.verdict, 'pass', v1.detail);
    assert.ok(v1.value !== null && v1.value < 0.05, `v1 p99 ${v1.value}`);
  });

  it('a version without traffic is inconclusive: not running (no series) or idle (0/0 = NaN)', async () => {
    await prom.waitForData('http_requests_total{version="v4"}');
    for (const q of [ERROR_RATIO, P99]) {
      const none = await measure(prom.url, q, { op: '>', value: 0.05 }, 'v9');
      assert.equal(none.verdict, 'inconclusive', none.detail);
      assert.equal(none.value, null);
      assert.equal(none.detail, 'query returned no series');
      const idle = await measure(prom.url, q, { op: '>', value: 0.05 }, 'v4');
      assert.equal(idle.verdict, 'inconclusive', idle.detail);
      assert.equal(idle.detail, 'value is NaN');
    }
  });

  it('a query Prometheus rejects is inconclusive with its error', async () => {
    const m = await measure(prom.url, 'sum(rate(http_requests_total{version="{{version}}"}[30s])', { op: '>', value: 1 }, 'v1');
    assert.equal(m.verdict, 'inconclusive');
    assert.match(m.detail, /^Prometheus error bad_data: .*parse error/);
  });

  it('an unsafe placeholder is a non-retryable UnsafeInput failure', async () => {
    await assert.rejects(measure(prom.url, 'up{host="{{host}}"}', { op: '>', value: 1 }, 'v1'), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.type, 'UnsafeInput');
      assert.equal(e.nonRetryable, true);
      assert.match(e.message, /\{\{host\}\}/);
      return true;
    });
    await assert.rejects(measure(prom.url, ERROR_RATIO, { op: '>', value: 1 }, 'v1"} or vector(1)'), ApplicationFailure);
  });

  it('Prometheus unreachable, slow, 5xx or not Prometheus: inconclusive, no throw', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await measure(nobody, ERROR_RATIO, { op: '>', value: 0.05 }, 'v1');
    assert.equal(down.verdict, 'inconclusive');
    assert.match(down.detail, /unreachable: ECONNREFUSED/);

    stand = createServer((req, res) => {
      if (req.url?.includes('slow')) return; // never answers
      res.writeHead(req.url?.startsWith('/bad/') ? 502 : 200, { 'Content-Type': 'text/html' });
      res.end('<html>gateway</html>');
    });
    await new Promise<void>((r) => stand.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
    const slow = await measure(`${base}/slow`, 'up', { op: '<', value: 1 }, 'v1', { timeoutMs: 300 });
    assert.equal(slow.verdict, 'inconclusive');
    assert.match(slow.detail, /no answer within 300 ms/);
    const bad = await measure(`${base}/bad`, 'up', { op: '<', value: 1 }, 'v1');
    assert.equal(bad.verdict, 'inconclusive');
    assert.match(bad.detail, /HTTP 502/);
    const html = await measure(`${base}/ok`, 'up', { op: '<', value: 1 }, 'v1');
    assert.equal(html.verdict, 'inconclusive');
    assert.match(html.detail, /unparseable/);
    stand.closeAllConnections();
    stand.close();
  });

  it('stops everything, leaving no process behind', async () => {
    await load.stop();
    assert.ok(load.sent() >= 150, `sent ${load.sent()}`);
    await prom.stop();
    await prom.stop(); // idempotent
    await Promise.all(apps.map((a) => a.daemon.stop()));
    await sleep(100);
    assert.ok(pids.every((p) => p > 0));
    assert.deepEqual(pids.filter(isAlive), []);
  });
});
