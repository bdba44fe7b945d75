// Pure parts of the failover: WAL positions and the lag estimate, the lag gate, PowerDNS and
// dig builders, smoke-test judgement, the PagerDuty event, and the `sites:` config section.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fenceSignalCommand, unfenceSignalCommand } from '../../activities/postgres/fence';
import { estimateLag, lsnDiff, parseLsn, pgClientConfig } from '../../activities/postgres/lsn';
import { digArgs, parseDigShort, replaceRrsetBody, rrsetContent, sameAnswer, zoneUrl } from '../../activities/powerdns/api';
import { pagerDutyEvent, smokeProblem, targetFor } from '../../activities/probe/judge';
import { ConfigError, parseConfig } from '../../config/load';
import { resolveSite, reversed } from '../../config/sites';
import { createBody, isReady, recordPlan, relativeName, scalePlan, wantedLabels, type VultrInstance } from '../../activities/vultr/plan';
import type { VultrAppServers } from '../../contract/failover';
import { judgeLag } from '../../workflows/steps/lag-gate';
import { fakeFailoverSpec } from '../support/failover-spec';

describe('WAL positions and lag', () => {
  test('parses and subtracts LSNs across the 4 GiB boundary', () => {
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
    assert.equal(lsnDiff('1/10', '0/FFFFFFF0'), 32);
    assert.equal(lsnDiff('0/10', '0/20'), 0, 'never negative');
    assert.throws(() => parseLsn('16B3748'), /not a WAL position/);
  });

  test('lag against the primary, the last known position or what was received; seconds only while bytes are missing', () => {
    const s = { inRecovery: true, receiveLsn: '0/3000', replayLsn: '0/2000', replayTimestamp: 1_000_000 };
    assert.deepEqual(estimateLag(s, 1_010_000, { lsn: '0/5000', source: 'primary' }), { against: { lsn: '0/5000', source: 'primary' }, bytes: 0x3000, seconds: 10 });
    assert.deepEqual(estimateLag(s, 1_010_000), { against: { lsn: '0/3000', source: 'received' }, bytes: 0x1000, seconds: 10 });
    assert.deepEqual(estimateLag({ ...s, receiveLsn: '0/2000' }, 9_999_999), { against: { lsn: '0/2000', source: 'received' }, bytes: 0, seconds: 0 });
    assert.deepEqual(estimateLag({ ...s, receiveLsn: null, replayLsn: null }, 0), { against: null, bytes: null, seconds: null });
  });

  test('the password comes from the named environment variable, and its absence is named', () => {
    const conn = { host: 'db', port: 5432, user: 'app', database: 'app', passwordEnv: 'PG_PW' };
    assert.equal(pgClientConfig(conn, { PG_PW: 's3cret' }).password, 's3cret');
    assert.throws(() => pgClientConfig(conn, {}), /no PG_PW \(the database password for app@db:5432\)/);
    assert.equal('password' in pgClientConfig({ ...conn, passwordEnv: undefined }, {}), false);
  });
});

describe('durable fence', () => {
  test('leaves standby.signal owned like the data directory and checks it; the undo removes it; paths are quoted', () => {
    assert.equal(
      fenceSignalCommand('/var/lib/postgresql/15/main/'),
      'test -d /var/lib/postgresql/15/main/ && touch /var/lib/postgresql/15/main/standby.signal && chown --reference=/var/lib/postgresql/15/main/ /var/lib/postgresql/15/main/standby.signal && test -f /var/lib/postgresql/15/main/standby.signal',
    );
    assert.equal(unfenceSignalCommand('/srv/pg data'), "rm -f '/srv/pg data/standby.signal'");
  });
});

describe('lag gate', () => {
  const gates = fakeFailoverSpec('x').gates; // 1024 bytes, 1 s
  test('passes within limits, refuses above either, passes with a warning when data loss is accepted', () => {
    assert.deepEqual(judgeLag({ bytes: 1024, seconds: 1 }, gates, false), { pass: true });
    const r = judgeLag({ bytes: 2048, seconds: 0.5 }, gates, false);
    assert.equal(r.pass, false);
    assert.match(!r.pass ? r.reason : '', /2048 bytes behind \(limit 1024 bytes\).*--accept-data-loss/);
    assert.equal(judgeLag({ bytes: 0, seconds: 3 }, gates, false).pass, false);
    assert.equal(judgeLag({ bytes: null, seconds: null }, gates, false).pass, false, 'unknown lag is not zero lag');
    const ok = judgeLag({ bytes: 5 * 1024 * 1024, seconds: 9 }, gates, true);
    assert.equal(ok.pass, true);
    assert.match(ok.pass ? (ok.warning ?? '') : '', /data loss accepted: 5\.0 MiB behind/);
  });
});

describe('PowerDNS and dig', () => {
  const spec = fakeFailoverSpec('x').dns;
  if (spec.kind !== 'powerdns') throw new Error('the test spec uses PowerDNS');
  const dns = spec;
  test('REPLACE body, zone URL, reading the rrset back', () => {
    assert.equal(zoneUrl({ ...dns, apiUrl: 'http://127.0.0.1:8081/' }), 'http://127.0.0.1:8081/api/v1/servers/localhost/zones/example.test.');
    assert.deepEqual(replaceRrsetBody(dns, ['198.51.100.20']), {
      rrsets: [{ name: 'app.example.test.', type: 'A', ttl: 60, changetype: 'REPLACE', records: [{ content: '198.51.100.20', disabled: false }] }],
    });
    assert.equal(replaceRrsetBody({ ...dns, type: 'CNAME' }, ['lb.example.test']).rrsets[0]?.records[0]?.content, 'lb.example.test.');
    const zone = { rrsets: [{ name: 'APP.example.test.', type: 'A', ttl: 60, records: [{ content: '2.2.2.2' }, { content: '1.1.1.1' }, { content: '3.3.3.3', disabled: true }] }] };
    assert.deepEqual(rrsetContent(dns, zone), { content: ['1.1.1.1', '2.2.2.2'], ttl: 60 });
    assert.deepEqual(rrsetContent(dns, { rrsets: [] }), { content: [], ttl: null });
  });

  test('dig asks the authoritative server directly; its complaints are errors, not answers', () => {
    assert.deepEqual(digArgs(dns), ['@127.0.0.1', '-p', '5300', '+short', '+norecurse', '+time=2', '+tries=1', 'app.example.test.', 'A']);
    assert.deepEqual(parseDigShort('2.2.2.2\n1.1.1.1\n'), ['1.1.1.1', '2.2.2.2']);
    assert.deepEqual(parseDigShort(''), []);
    assert.throws(() => parseDigShort(';; connection timed out; no servers could be reached\n'), /dig: connection timed out/);
    assert.ok(sameAnswer(dns, ['2.2.2.2', '1.1.1.1'], ['1.1.1.1', '2.2.2.2']));
    assert.ok(!sameAnswer(dns, ['1.1.1.1'], ['1.1.1.1', '2.2.2.2']));
    assert.ok(sameAnswer({ ...dns, type: 'CNAME' }, ['lb.example.test.'], ['LB.example.test']));
  });
});

describe('smoke tests and pages', () => {
  const smoke = { ...fakeFailoverSpec('x').smoke, versionHeader: 'X-App-Version', version: 'v1', bodyContains: 'ok' };
  test('judges status, version header, body and time', () => {
    const a = { status: 200, headers: { 'x-app-version': 'v1' }, body: 'all ok', ms: 5 };
    assert.equal(smokeProblem(smoke, a), undefined);
    assert.equal(smokeProblem(smoke, { ...a, status: 502 }), 'HTTP 502, want 200');
    assert.equal(smokeProblem(smoke, { ...a, headers: {} }), 'X-App-Version: (missing), want v1');
    assert.match(smokeProblem(smoke, { ...a, body: 'nope' }) ?? '', /lacks "ok"/);
    assert.match(smokeProblem(smoke, { ...a, ms: 5000 }) ?? '', /over 2000 ms/);
  });
  test('the smoke URL goes to the resolved address with the name as Host', () => {
    const t = targetFor('http://app.example.test:8080/health?x=1', '127.0.0.21');
    assert.equal(t.url.href, 'http://127.0.0.21:8080/health?x=1');
    assert.equal(t.hostHeader, 'app.example.test:8080');
  });
  test('PagerDuty Events v2 trigger and resolve', () => {
    assert.deepEqual(pagerDutyEvent('KEY', 'trigger', 'd1', 'down', 'http://x/health'), {
      routing_key: 'KEY',
      event_action: 'trigger',
      dedup_key: 'd1',
      payload: { summary: 'down', source: 'http://x/health', severity: 'critical', component: 'database', group: 'cutover-failover' },
    });
    assert.deepEqual(pagerDutyEvent('KEY', 'resolve', 'd1', 'up', 's'), { routing_key: 'KEY', event_action: 'resolve', dedup_key: 'd1' });
  });
});

describe('Vultr app servers', () => {
  const servers: VultrAppServers = { kind: 'vultr', apiKeyEnv: 'K', region: 'ams', plan: 'p', snapshotId: 's', count: 3, tag: 'standby', label: 'app', healthUrl: 'http://{{address}}/' };
  const inst = (label: string, tags = ['standby'], id = label): VultrInstance => ({ id, label, main_ip: '1.2.3.4', status: 'active', power_status: 'running', server_status: 'ok', tags });
  test('reuses tagged instances by label, then any tagged one, and creates only what is missing', () => {
    assert.deepEqual(wantedLabels(servers), ['app-1', 'app-2', 'app-3']);
    assert.deepEqual(scalePlan(servers, []), { reuse: [], create: ['app-1', 'app-2', 'app-3'] });
    const p = scalePlan(servers, [inst('app-2'), inst('app-9', ['other'])]);
    assert.deepEqual(p.reuse.map((i) => i.label), ['app-2']);
    assert.deepEqual(p.create, ['app-1', 'app-3']);
    const q = scalePlan(servers, [inst('app-1'), inst('by-hand'), inst('app-3'), inst('extra')]);
    assert.deepEqual(q.reuse.map((i) => i.label), ['app-1', 'app-3', 'by-hand']);
    assert.deepEqual(q.create, []);
    assert.deepEqual(scalePlan(servers, [{ ...inst('app-1', []), tag: 'standby' }]).reuse.length, 1, 'the older single `tag` field counts');
  });
  test('DNS: relative names and the record plan (keep, fix the TTL, delete, create)', () => {
    assert.equal(relativeName('app.example.com.', 'example.com'), 'app');
    assert.equal(relativeName('example.com.', 'example.com'), '');
    assert.equal(relativeName('a.b.Example.com.', 'example.com.'), 'a.b');
    assert.throws(() => relativeName('app.example.org.', 'example.com'), /not in the domain example\.com/);
    const rec = (id: string, data: string, ttl = 60, name = 'app', type = 'A') => ({ id, type, name, data, ttl });
    assert.deepEqual(recordPlan([rec('1', '1.1.1.1'), rec('2', '2.2.2.2', 300), rec('3', '3.3.3.3'), rec('4', '9.9.9.9', 60, 'www'), rec('5', '::1', 60, 'app', 'AAAA')], 'app', 'A', ['2.2.2.2', '4.4.4.4'], 60), {
      update: ['2'],
      remove: ['1', '3'],
      create: ['4.4.4.4'],
    });
    assert.deepEqual(recordPlan([rec('1', '4.4.4.4'), rec('2', '2.2.2.2')], 'app', 'A', ['2.2.2.2', '4.4.4.4'], 60), { update: [], remove: [], create: [] });
  });

  test('create body and readiness', () => {
    assert.deepEqual(createBody(servers, 'app-2'), { region: 'ams', plan: 'p', snapshot_id: 's', label: 'app-2', tags: ['standby'], hostname: 'app-2' });
    assert.equal(isReady(inst('a')), true);
    assert.equal(isReady({ ...inst('a'), status: 'pending' }), false);
    assert.equal(isReady({ ...inst('a'), main_ip: '0.0.0.0' }), false);
  });
});

describe('sites: in cutover.yml', () => {
  const host = (name: string, address: string) => `{ name: ${name}, address: ${address}, user: root, privateKeyPath: /k, hostKey: "SHA256:abc" }`;
  const site = (name: string, ip: string) => [
    `      name: ${name}`,
    `      database: { host: ${ip}, user: postgres, database: app, passwordEnv: PG_PASSWORD }`,
    `      fence: { host: ${host(`${name}-db`, ip)}, command: "pg_ctlcluster 15 main stop -m fast" }`,
    `      appServers: { ssh: { hosts: [${host(`${name}-app`, ip)}], start: "systemctl start app", stop: "systemctl stop app", healthUrl: "http://{{address}}:8080/health" } }`,
    `      dnsContent: [${ip}]`,
  ];
  const file = (extra: string[] = []) =>
    [
      'apps:',
      '  a:',
      '    environments:',
      '      p:',
      `        hosts: [${host('h', '127.0.0.1')}]`,
      '        slots: { blue: { port: 1 }, green: { port: 2 }, start: "go {{version}}", stop: stop }',
      '        router: { nginx: { upstreamFile: /etc/x.conf } }',
      'sites:',
      '  shop:',
      '    primary:',
      ...site('fra', '10.0.0.5'),
      '    standby:',
      ...site('ams', '10.1.0.5'),
      '    dns: { powerdns: { apiUrl: "http://127.0.0.1:8081", zone: example.com., apiKeyEnv: PDNS_API_KEY, nameserver: "127.0.0.1:5300" }, name: app.example.com., ttl: 60s }',
      '    probe: { url: "http://10.0.0.5:8080/health", interval: 5s, failures: 3 }',
      '    smoke: { url: "http://app.example.com:8080/", watch: 10s }',
      ...extra,
    ].join('\n');

  test('maps onto the failover spec with defaults, durations in ms and the TTL in seconds', () => {
    const spec = resolveSite(parseConfig(file(['    gates: { maxLagBytes: 16MB, unreachablePrimary: { wait: 30s, then: proceed } }'])).sites, 'shop');
    assert.ok(spec);
    assert.equal(spec.site, 'shop');
    assert.equal(spec.primary.database.port, 5432);
    assert.equal(spec.primary.database.passwordEnv, 'PG_PASSWORD');
    assert.equal(spec.standby.appServers.kind, 'ssh');
    assert.deepEqual(spec.dns.nameserver, { address: '127.0.0.1', port: 5300 });
    assert.equal(spec.dns.ttlSeconds, 60);
    assert.equal(spec.dns.kind === 'powerdns' && spec.dns.serverId, 'localhost');
    assert.equal(spec.probe.intervalMs, 5000);
    assert.equal(spec.smoke.watchMs, 10_000);
    assert.deepEqual(spec.gates, { maxLagBytes: 16 * 1024 * 1024, maxLagSeconds: 1, unreachablePrimary: { waitMs: 30_000, then: 'proceed' } });
    assert.equal(spec.auto, false);
    assert.equal(resolveSite(parseConfig(file()).sites, 'nope'), undefined);
    assert.equal(reversed(spec).primary.name, 'ams');
    assert.equal(spec.primary.fence.dataDir, undefined);
    assert.equal(spec.confirmers, undefined);
  });

  test('the durable fence\'s data directory and the confirmers', () => {
    const text = file(['    confirmers: [alice, bob]']).replace('command: "pg_ctlcluster 15 main stop -m fast" }', 'command: "pg_ctlcluster 15 main stop -m fast", dataDir: /var/lib/postgresql/15/main }');
    const spec = resolveSite(parseConfig(text).sites, 'shop')!;
    assert.equal(spec.primary.fence.dataDir, '/var/lib/postgresql/15/main');
    assert.deepEqual(spec.confirmers, ['alice', 'bob']);
  });

  test('a Vultr standby: its DNS content defaults to its instances, its label to <site>-app', () => {
    const vultr = file().replace(
      /appServers: \{ ssh: \{ hosts: \[\{ name: ams-app[^\n]*\n      dnsContent: \[10\.1\.0\.5\]/,
      'appServers: { vultr: { apiKeyEnv: VULTR_API_KEY, region: ams, plan: vc2-1c-1gb, snapshotId: snap-1, count: 5, tag: shop-standby, healthUrl: "http://{{address}}:8080/health" } }',
    );
    assert.notEqual(vultr, file());
    const spec = resolveSite(parseConfig(vultr).sites, 'shop')!;
    assert.deepEqual(spec.standby.dnsContent, []);
    assert.equal(spec.standby.appServers.kind, 'vultr');
    assert.equal(spec.standby.appServers.kind === 'vultr' && spec.standby.appServers.label, 'ams-app');
    assert.equal(spec.standby.appServers.kind === 'vultr' && spec.standby.appServers.count, 5);
  });

  test('Vultr DNS instead of PowerDNS', () => {
    const text = file().replace(
      'dns: { powerdns: { apiUrl: "http://127.0.0.1:8081", zone: example.com., apiKeyEnv: PDNS_API_KEY, nameserver: "127.0.0.1:5300" }',
      'dns: { vultr: { apiKeyEnv: VULTR_API_KEY, domain: example.com, nameserver: "ns1.vultr.com:53" }',
    );
    assert.notEqual(text, file());
    const dns = resolveSite(parseConfig(text).sites, 'shop')!.dns;
    assert.deepEqual(dns, { kind: 'vultr', apiKeyEnv: 'VULTR_API_KEY', domain: 'example.com', nameserver: { address: 'ns1.vultr.com', port: 53 }, name: 'app.example.com.', type: 'A', ttlSeconds: 60 });
  });

  test('errors name the config path', () => {
    const errors = (text: string): string => {
      try {
        parseConfig(text);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.format();
      }
      assert.fail('expected a ConfigError');
    };
    assert.match(errors(file(['    gates: { maxLagBytes: lots }'])), /sites\.shop\.gates\.maxLagBytes: expected a size like/);
    assert.match(errors(file().replace('stop -m fast" }', 'stop -m fast", dataDir: pgdata }')), /sites\.shop\.primary\.fence\.dataDir: an absolute path like/);
    assert.match(errors(file(['    confirmers: []'])), /sites\.shop\.confirmers: name at least one, or leave confirmers out/);
    assert.match(errors(file().replace('name: app.example.com.', 'name: app.example.com')), /sites\.shop\.dns\.name: write the name fully qualified with its trailing dot/);
    assert.match(errors(file().replace('nameserver: "127.0.0.1:5300"', 'nameserver: "127.0.0.1"')), /sites\.shop\.dns\.powerdns\.nameserver: expected address:port/);
    assert.match(errors(file().replace('apiKeyEnv: PDNS_API_KEY', 'apiKeyEnv: "my key"')), /sites\.shop\.dns\.powerdns\.apiKeyEnv: .*name of an environment variable/);
    assert.match(errors(file().replace('dns: { powerdns:', 'dns: { vultr: { apiKeyEnv: K, domain: example.com, nameserver: "1.2.3.4:53" }, powerdns:')), /sites\.shop\.dns: give exactly one of powerdns/);
    assert.match(errors(file().replace('      name: ams', '      name: fra')), /sites\.shop\.standby\.name: "fra" is also the primary's name/);
    assert.match(errors(file(['    gates: { unreachablePrimary: { then: maybe } }'])), /sites\.shop\.gates\.unreachablePrimary\.then/);
    assert.match(errors(file().replace('      dnsContent: [10.1.0.5]\n', '')), /sites\.shop\.standby\.dnsContent: the DNS record content/);
    assert.match(errors(file().replace('appServers: { ssh:', 'appServers: { vultr: { apiKeyEnv: K, region: r, plan: p, snapshotId: s, count: 1, tag: t, healthUrl: "http://x/" }, ssh:')), /sites\.shop\.primary\.appServers: give exactly one of ssh/);
  });
});
