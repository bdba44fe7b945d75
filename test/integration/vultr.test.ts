// The Vultr app servers activity and its v2 client against the API stand-in
// (test/support/fake-vultr.ts), whose instances run the sandbox app on loopback addresses:
// create from the snapshot, wait until active and healthy, reuse by tag; a create whose answer
// is lost half-way is retried without a second server; every failure (an HTTP error, a refused
// connection, a missing key) is a rejection with the API's message. Vultr DNS: the record set
// is made to hold exactly the new addresses (safe to repeat) and the nameserver (a real
// PowerDNS fed by the stand-in) answers them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createVultrActivities, type VultrScaleResult } from '../../activities/vultr';
import { createVultrClient } from '../../activities/vultr/client';
import { httpGet } from '../../activities/probe';
import type { VultrAppServers } from '../../contract/failover';
import { freePort } from '../../sandbox/procs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsRepointResult } from '../../activities/powerdns';
import { startPowerDns } from '../../sandbox/powerdns';
import { startFakeVultr, type FakeVultr } from '../support/fake-vultr';

let vultr: FakeVultr;
let appPort: number;

before(async () => {
  appPort = await freePort('127.0.0.51');
  vultr = await startFakeVultr({ addressFor: (n) => `127.0.0.${51 + n}`, appPort, appVersion: 'v7', snapshots: ['snap-app'] });
});
after(async () => {
  await vultr?.close();
});

const servers = (extra: Partial<VultrAppServers> = {}): VultrAppServers => ({
  kind: 'vultr',
  apiKeyEnv: 'VULTR_API_KEY',
  apiUrl: vultr.url,
  region: 'ams',
  plan: 'vc2-1c-1gb',
  snapshotId: 'snap-app',
  count: 2,
  tag: 'shop-standby',
  label: 'ams-app',
  healthUrl: `http://{{address}}:${appPort}/health`,
  ...extra,
});

const scale = (s: VultrAppServers, env: NodeJS.ProcessEnv = { VULTR_API_KEY: vultr.apiKey }) =>
  new MockActivityEnvironment().run(createVultrActivities(env).vultrScale, { servers: s, healthTimeoutMs: 30_000 }) as Promise<VultrScaleResult>;

describe('Vultr app servers through the v2 API stand-in', () => {
  test('a create whose answer is lost is retried without a second server; the instances run the app; a third run reuses them', { timeout: 120_000 }, async () => {
    vultr.failNextCreate();
    await assert.rejects(scale(servers()), /create instance ams-app-1: HTTP 500 Internal Server Error: Internal server error/);
    assert.equal(vultr.instances().length, 1, 'the first create made its server before failing');

    const r = await scale(servers());
    assert.equal(r.created, 1);
    assert.equal(r.reused, 1);
    assert.deepEqual(r.instances.map((i) => i.label), ['ams-app-1', 'ams-app-2']);
    assert.deepEqual(vultr.instances().map((i) => i.label).sort(), ['ams-app-1', 'ams-app-2'], 'no orphan, no duplicate');
    for (const i of r.instances) {
      const a = await httpGet(new URL(`http://${i.mainIp}:${appPort}/`), 2000);
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-app-version'], 'v7');
    }
    const again = await scale(servers());
    assert.deepEqual({ created: again.created, reused: again.reused }, { created: 0, reused: 2 });
    assert.equal(vultr.instances().length, 2);
  });

  test('failures come out as rejections with the API message', { timeout: 60_000 }, async () => {
    const c = createVultrClient('wrong-key', vultr.url);
    await assert.rejects(c.listInstances('x'), /list instances: HTTP 401 Unauthorized: Invalid API token\./);
    await assert.rejects(createVultrClient(vultr.apiKey, vultr.url).getInstance('nope'), /get instance nope: HTTP 404 Not Found: Not found/);
    const closed = await freePort();
    await assert.rejects(createVultrClient(vultr.apiKey, `http://127.0.0.1:${closed}/v2`).listInstances('x'), /list instances: .*ECONNREFUSED/);
    await assert.rejects(scale(servers({ snapshotId: 'snap-gone', tag: 'other', label: 'other' })), /Invalid snapshot: snap-gone/);
    await assert.rejects(scale(servers(), {}), /no VULTR_API_KEY \(the Vultr API key\)/);
  });

  test('Vultr DNS: the record set holds exactly the new addresses, the nameserver answers them, a repeat changes nothing', { timeout: 60_000 }, async () => {
    const pdns = await startPowerDns({ dir: mkdtempSync(join(tmpdir(), 'cutover-vultr-dns-')) });
    const dnsVultr = await startFakeVultr({ addressFor: (n) => `127.0.0.${81 + n}`, appPort, appVersion: 'v7', snapshots: [], dns: { domains: ['example.test'], pdns } });
    try {
      await pdns.createZone('example.test.', { 'other.example.test.': ['127.0.0.9'] });
      const client = createVultrClient(dnsVultr.apiKey, dnsVultr.url);
      await client.createRecord('example.test', { name: 'app', type: 'A', data: '127.0.0.71', ttl: 300 });
      await client.createRecord('example.test', { name: 'www', type: 'A', data: '127.0.0.71', ttl: 300 });
      assert.deepEqual(pdns.dig('app.example.test.'), ['127.0.0.71']);
      const dns = { kind: 'vultr' as const, apiKeyEnv: 'VULTR_API_KEY', apiUrl: dnsVultr.url, domain: 'example.test', nameserver: { address: '127.0.0.1', port: pdns.dnsPort }, name: 'app.example.test.', type: 'A' as const, ttlSeconds: 60 };
      const repoint = () =>
        new MockActivityEnvironment().run(createVultrActivities({ VULTR_API_KEY: dnsVultr.apiKey }).vultrDnsRepoint, { dns, content: ['127.0.0.72', '127.0.0.73'] }) as Promise<DnsRepointResult>;
      const r = await repoint();
      assert.deepEqual(r.previous, ['127.0.0.71']);
      assert.deepEqual(r.answer, ['127.0.0.72', '127.0.0.73']);
      assert.deepEqual(pdns.dig('app.example.test.'), ['127.0.0.72', '127.0.0.73']);
      assert.deepEqual(pdns.dig('www.example.test.'), ['127.0.0.71'], 'other records untouched');
      const app = dnsVultr.records('example.test').filter((x) => x.name === 'app');
      assert.deepEqual(app.map((x) => [x.data, x.ttl]).sort(), [['127.0.0.72', 60], ['127.0.0.73', 60]]);
      const before = dnsVultr.calls.length;
      await repoint();
      assert.deepEqual(dnsVultr.calls.slice(before), ['GET /v2/domains/example.test/records'], 'a repeat only reads');
    } finally {
      await dnsVultr.close();
      await pdns.stop();
    }
  });
});
