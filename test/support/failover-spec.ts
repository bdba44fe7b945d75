// A failover spec for tests: two sites named after their databases' hosts (the fake DR world
// keys databases by host), overridable field by field.
import type { FailoverSpec, GatesSpec, SiteSpec } from '../../contract/failover';
import type { HostSpec } from '../../contract/spec';

const host = (name: string, address = '127.0.0.1', port = 22): HostSpec => ({ name, address, port, user: 'root', privateKeyPath: '/nonexistent', hostKey: 'SHA256:x' });

export function fakeSite(name: string, address: string, extra: Partial<SiteSpec> = {}): SiteSpec {
  return {
    name,
    database: { host: name, port: 5432, user: 'postgres', database: 'app' },
    fence: { host: host(`${name}-db`), command: 'pg_ctl stop', undo: 'pg_ctl start' },
    appServers: { kind: 'ssh', hosts: [host(`${name}-app1`), host(`${name}-app2`)], start: 'start', stop: 'stop', healthUrl: 'http://{{address}}:8080/health' },
    dnsContent: [address],
    ...extra,
  };
}

export function fakeFailoverSpec(site: string, extra: Omit<Partial<FailoverSpec>, 'gates'> & { gates?: Partial<GatesSpec> } = {}): FailoverSpec {
  const { gates, ...rest } = extra;
  return {
    site,
    primary: fakeSite('fra', '203.0.113.10'),
    standby: fakeSite('ams', '198.51.100.20'),
    dns: {
      kind: 'powerdns',
      apiUrl: 'http://127.0.0.1:8081',
      serverId: 'localhost',
      zone: 'example.test.',
      apiKeyEnv: 'PDNS_API_KEY',
      nameserver: { address: '127.0.0.1', port: 5300 },
      name: 'app.example.test.',
      type: 'A',
      ttlSeconds: 60,
    },
    probe: { url: 'http://203.0.113.10/health', expectStatus: 200, intervalMs: 5000, timeoutMs: 2000, failures: 3 },
    smoke: { url: 'http://app.example.test/', expectStatus: 200, requests: 5, watchMs: 1000, maxErrorRate: 0.01, timeoutMs: 2000 },
    gates: { maxLagBytes: 1024, maxLagSeconds: 1, unreachablePrimary: { waitMs: 60_000, then: 'fail' }, ...gates },
    auto: false,
    slack: { channel: '#incidents' },
    ...rest,
  };
}
