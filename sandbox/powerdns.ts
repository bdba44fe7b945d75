// A real PowerDNS Authoritative Server (Debian's pdns-server 4.7 with the SQLite backend) on
// loopback for tests, the demo and benchmarks: its HTTP API on one port, DNS on another. As
// root it runs without setuid (the directory stays root's).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, sleep, spawnDaemon, waitForTcp } from './procs';

export const PDNS_BIN = '/usr/sbin/pdns_server';
const SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';

export interface SandboxPowerDns {
  apiUrl: string;
  apiKey: string;
  dnsPort: number;
  /** Create a zone with an SOA, NS and the given A records (name → addresses), through the API. */
  createZone(zone: string, records: Record<string, string[]>): Promise<void>;
  /** `dig +short` against this server. */
  dig(name: string, type?: string): string[];
  stop(): Promise<void>;
}

const logTail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
};

export async function startPowerDns(opts: { dir: string; apiKey?: string }): Promise<SandboxPowerDns> {
  if (!existsSync(PDNS_BIN)) throw new Error(`PowerDNS is not installed (${PDNS_BIN}); run scripts/setup.sh`);
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'pdns.sqlite3');
  if (!existsSync(db)) execFileSync('sqlite3', [db], { input: readFileSync(SCHEMA, 'utf8') });
  const apiKey = opts.apiKey ?? 'sandbox-pdns-key';
  const [apiPort, dnsPort] = [await freePort(), await freePort()];
  const conf = [
    'launch=gsqlite3',
    `gsqlite3-database=${db}`,
    'api=yes',
    `api-key=${apiKey}`,
    'webserver=yes',
    'webserver-address=127.0.0.1',
    `webserver-port=${apiPort}`,
    'webserver-allow-from=127.0.0.0/8',
    'local-address=127.0.0.1',
    `local-port=${dnsPort}`,
    'guardian=no',
    'daemon=no',
    'disable-syslog=yes',
    `socket-dir=${dir}`,
    'zone-cache-refresh-interval=0',
    // Answers straight from the database: a change is visible to dig at once.
    'cache-ttl=0',
    'negquery-cache-ttl=0',
    'query-cache-ttl=0',
    'consistent-backends=yes',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pdns.conf'), conf);
  const log = join(dir, 'pdns.log');
  const daemon = spawnDaemon(PDNS_BIN, [`--config-dir=${dir}`], log);
  await waitForTcp('pdns api', '127.0.0.1', apiPort, 15_000, () => (daemon.isRunning() ? undefined : `exited: ${logTail(log)}`));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = async (method: string, path: string, body?: unknown): Promise<void> => {
    const res = await fetch(`${apiUrl}${path}`, { method, headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) throw new Error(`pdns ${method} ${path}: HTTP ${res.status}: ${await res.text()}`);
  };
  const dig = (name: string, type = 'A'): string[] =>
    execFileSync('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', '+norecurse', '+time=2', '+tries=1', name, type], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();
  return {
    apiUrl,
    apiKey,
    dnsPort,
    async createZone(zone, records) {
      await api('POST', '/api/v1/servers/localhost/zones', {
        name: zone,
        kind: 'Native',
        nameservers: [`ns1.${zone}`],
        rrsets: Object.entries(records).map(([name, addresses]) => ({ name, type: 'A', ttl: 60, records: addresses.map((content) => ({ content, disabled: false })) })),
      });
      for (let i = 0; i < 100; i++) {
        try {
          const first = Object.keys(records)[0];
          if (!first || dig(first).length > 0) return;
        } catch {
          /* not answering yet */
        }
        await sleep(100);
      }
      throw new Error(`pdns: zone ${zone} not served on ${dnsPort}: ${logTail(log)}`);
    },
    dig,
    stop: () => daemon.stop(3000),
  };
}
