// The failover's smoke test and health probe against a real PowerDNS and real HTTP servers: the
// smoke URL's name is resolved through the DNS server itself, every address must pass, and the
// error rate under a small load is watched; the monitor's probe reports refusals as answers.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createProbeActivities, type SmokeResult } from '../../activities/probe';
import { freePort } from '../../sandbox/procs';
import { startPowerDns, type SandboxPowerDns } from '../../sandbox/powerdns';
import { fakeFailoverSpec } from '../support/failover-spec';

const A = '127.0.0.61';
const B = '127.0.0.62';
let pdns: SandboxPowerDns;
let port: number;
const servers: Server[] = [];
/** address → what share of requests after the first 10 answer 500. */
const failShare = new Map<string, number>();
const seen = new Map<string, number>();

before(async () => {
  pdns = await startPowerDns({ dir: mkdtempSync(join(tmpdir(), 'cutover-smoke-')) });
  await pdns.createZone('example.test.', { 'app.example.test.': [A, B], 'one.example.test.': [A] });
  port = await freePort(A);
  for (const address of [A, B]) {
    const s = createServer((req, res) => {
      const n = (seen.get(address) ?? 0) + 1;
      seen.set(address, n);
      const fail = n > 10 && Math.random() < (failShare.get(address) ?? 0);
      res.writeHead(fail ? 500 : 200, { 'X-App-Version': 'v3' }).end(`hello from ${address} for ${req.headers.host}`);
    });
    await new Promise<void>((r) => s.listen(port, address, r));
    servers.push(s);
  }
});
after(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  await pdns?.stop();
});

function input(host: string, extra: Partial<ReturnType<typeof fakeFailoverSpec>['smoke']> = {}) {
  const base = fakeFailoverSpec('x');
  return {
    smoke: { ...base.smoke, url: `http://${host}:${port}/`, versionHeader: 'X-App-Version', version: 'v3', bodyContains: 'hello', requests: 3, watchMs: 1500, maxErrorRate: 0.01, ...extra },
    dns: { ...base.dns, nameserver: { address: '127.0.0.1', port: pdns.dnsPort } },
  };
}
const smoke = (i: ReturnType<typeof input>) => new MockActivityEnvironment().run(createProbeActivities({}).smokeTest, i) as Promise<SmokeResult>;

describe('smoke test and probe', () => {
  test('resolves the name through the DNS server and passes on every address under load', { timeout: 60_000 }, async () => {
    failShare.clear();
    const r = await smoke(input('app.example.test'));
    assert.deepEqual(r.resolved, [A, B]);
    assert.equal(r.errors, 0);
    assert.ok(r.requests > 50, `a small load: ${r.requests} requests`);
  });

  test('fails above the error rate while watching, and on a wrong version at once', { timeout: 60_000 }, async () => {
    failShare.set(B, 0.5);
    seen.clear(); // the first 10 answers of each server pass: the initial requests go through
    await assert.rejects(smoke(input('app.example.test')), /smoke test .* requests failed \(\d+\.\d%, limit 1\.0%\)/);
    failShare.clear();
    await assert.rejects(smoke(input('one.example.test', { version: 'v4' })), /127\.0\.0\.61: X-App-Version: v3, want v4/);
    await assert.rejects(smoke(input('missing.example.test')), /gives no address for missing\.example\.test\./);
  });

  test('the probe answers failures instead of throwing', async () => {
    const probe = createProbeActivities({}).httpProbe;
    const ok = await probe({ url: `http://${A}:${port}/`, expectStatus: 200, intervalMs: 1000, timeoutMs: 1000, failures: 3 });
    assert.equal(ok.ok, true);
    const closed = await freePort();
    const down = await probe({ url: `http://127.0.0.1:${closed}/`, expectStatus: 200, intervalMs: 1000, timeoutMs: 1000, failures: 3 });
    assert.equal(down.ok, false);
    assert.match(down.detail, /ECONNREFUSED/);
  });
});
