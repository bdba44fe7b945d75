// The disaster-recovery world on loopback: a Temporal dev server, a real PostgreSQL 15 primary
// with a synchronous streaming standby, a real PowerDNS serving app.example.test, two sandbox
// sites (sshd + the sample app; the primary's app live, the standby's stopped), a Slack and a
// PagerDuty stand-in, the cutover worker as its own process, and a cutover.yml with the
// `sites.shop` service. Used by the integration test, the demo and the benchmark.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { startDevServer, type DevServer } from '../../sandbox/devserver';
import { PG_BIN, startPostgres, type SandboxPostgres } from '../../sandbox/postgres';
import { startPowerDns, type SandboxPowerDns } from '../../sandbox/powerdns';
import { freePort, sleep } from '../../sandbox/procs';
import { startHost, type SandboxHost } from '../../sandbox/world';
import { startFakeSlack, type FakeSlack } from './fake-slack';
import { startFakeVultr, type FakeVultr } from './fake-vultr';
import { WorkerProcess, type CliRun } from './world';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'bin/cutover');
export const SITE = 'shop';
export const DNS_NAME = 'app.example.test.';
const ADDRESSES = { fra: '127.0.0.41', ams: '127.0.0.42' } as const;
/** The sample app writes each `GET /` to its site's database (sandbox/app/server.js). */
const appDbEnv = (pg: SandboxPostgres): Record<string, string> => ({ APP_DATABASE_URL: pg.url(), APP_PG_MODULE: join(ROOT, 'node_modules/pg') });

export interface DrWorldOptions {
  /** Probe interval and failures in a row. */
  probeIntervalMs?: number;
  probeFailures?: number;
  auto?: boolean;
  /** The standby's app start waits this long first (to catch a failover mid-step). */
  appStartDelayS?: number;
  maxLagBytes?: number;
  /** The standby's app servers are `count` Vultr instances (the API stand-in), DNS their IPs. */
  vultr?: { count: number };
}

export interface DrWorld {
  dir: string;
  server: DevServer;
  client: Client;
  primary: SandboxPostgres;
  standby: SandboxPostgres;
  pdns: SandboxPowerDns;
  fra: SandboxHost;
  ams: SandboxHost;
  /** The app port, the same on both sites (the DNS name decides which one answers). */
  appPort: number;
  slack: FakeSlack;
  pages: unknown[];
  /** Set with `vultr`. */
  vultr: FakeVultr | undefined;
  worker: WorkerProcess;
  configFile: string;
  addresses: typeof ADDRESSES;
  /** Start the primary's PostgreSQL again as its host would after a reboot (pg_ctl start; a standby.signal left by the fence stays). */
  restartPrimary(): void;
  cutover(args: string[], timeoutMs?: number): Promise<CliRun>;
  stop(): Promise<void>;
}

/** The PagerDuty Events v2 stand-in: keeps what it is sent, answers 202 like the real one. */
async function startPager(pages: unknown[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pages.push(JSON.parse(body || '{}'));
      res.writeHead(202, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed' }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/v2/enqueue`, server };
}

export async function startDrWorld(prefix: string, opts: DrWorldOptions = {}): Promise<DrWorld> {
  const dir = mkdtempSync(join(tmpdir(), `cutover-${prefix}-`));
  chmodSync(dir, 0o755); // the postgres user must reach its data directories below
  const stops: [string, () => Promise<unknown>][] = [];
  const stop = async (): Promise<void> => {
    for (const [what, fn] of stops.reverse()) {
      try {
        await Promise.race([fn(), sleep(30_000)]);
      } catch (err) {
        console.error(`cleanup ${what}: ${(err as Error).message}`);
      }
    }
    stops.length = 0;
  };
  try {
    const server = await startDevServer({ dir: join(dir, 'temporal') });
    stops.push(['temporal', () => server.stop()]);
    // Synchronous replication: a write the primary acknowledged is on the standby's disk.
    const primarySettings = { synchronous_standby_names: '*', synchronous_commit: 'on' };
    const primary = await startPostgres({ dir: join(dir, 'pg-primary'), settings: primarySettings });
    stops.push(['primary', () => pgCtlStop(primary)]);
    const standby = await startPostgres({ dir: join(dir, 'pg-standby'), standbyOf: primary });
    stops.push(['standby', () => pgCtlStop(standby)]);
    primary.sql('CREATE TABLE orders (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())');
    const pdns = await startPowerDns({ dir: join(dir, 'pdns') });
    stops.push(['pdns', () => pdns.stop()]);
    await pdns.createZone('example.test.', { [DNS_NAME]: [ADDRESSES.fra] });

    const appPort = await freePort(ADDRESSES.fra);
    const host = async (name: 'fra' | 'ams', live: boolean): Promise<SandboxHost> => {
      const address = ADDRESSES[name];
      const ports = { blue: appPort, green: await freePort(address), nginx: await freePort(address), ssh: await freePort(address) };
      const h = await startHost({ name, root: join(dir, 'hosts', name), upstreamName: 'shop', address, ports, releases: { v1: undefined }, ...(live ? { initial: { color: 'blue' as const, version: 'v1' } } : {}) });
      stops.push([name, () => h.stop()]);
      return h;
    };
    const fra = await host('fra', true);
    // The live app again, now writing to the primary's database.
    execFileSync(join(fra.root, 'bin/slot'), ['start', 'blue', String(appPort), 'v1'], { env: { ...process.env, ...appDbEnv(primary) }, stdio: 'ignore', timeout: 30_000 });
    const ams = await host('ams', false);
    const slack = await startFakeSlack({ channels: ['incidents'] });
    stops.push(['slack', () => slack.close()]);
    const pages: unknown[] = [];
    const pager = await startPager(pages);
    stops.push(['pager', () => new Promise((r) => pager.server.close(r))]);

    let vultr: FakeVultr | undefined;
    if (opts.vultr) {
      vultr = await startFakeVultr({ addressFor: (n) => `127.0.0.${51 + n}`, appPort, appVersion: 'v1', snapshots: ['snap-shop'] });
      const v = vultr;
      stops.push(['vultr', () => v.close()]);
    }
    const pgCtl = (pg: SandboxPostgres, args: string) => `runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${pg.dataDir} ${args}`;
    // Idempotent: stops a running cluster, and succeeds when it is already stopped.
    const fenceCommand = (pg: SandboxPostgres) => `if ${pgCtl(pg, 'status')} >/dev/null 2>&1; then ${pgCtl(pg, 'stop -m fast -w')}; fi`;
    const startOptions = (pg: SandboxPostgres, extra: Record<string, string>) =>
      Object.entries({ listen_addresses: '127.0.0.1', port: String(pg.port), unix_socket_directories: resolve(pg.dataDir, '..'), fsync: 'off', wal_level: 'replica', max_wal_senders: '5', hot_standby: 'on', ...extra })
        .map(([k, v]) => `-c ${k}=${v}`)
        .join(' ');
    const undoCommand = (pg: SandboxPostgres, extra: Record<string, string>) =>
      `${pgCtl(pg, `start -w -l ${resolve(pg.dataDir, '..', 'pg_ctl.log')} -o '${startOptions(pg, extra)}'`)}`;
    // A fresh copy of the other site's database, started as its standby (without the
    // synchronous setting: promoted later with no standby of its own, it must not wait for one).
    const reseedCommand = (pg: SandboxPostgres) =>
      `rm -rf ${pg.dataDir} && runuser -u postgres -- ${PG_BIN}/pg_basebackup -h {{primaryHost}} -p {{primaryPort}} -U postgres -D ${pg.dataDir} -R -X stream -c fast && ${undoCommand(pg, {})}`;
    const site = (name: 'fra' | 'ams', h: SandboxHost, pg: SandboxPostgres, extra: Record<string, string>) => ({
      name,
      database: { host: '127.0.0.1', port: pg.port, user: 'postgres', database: 'postgres' },
      fence: { host: h.spec, command: fenceCommand(pg), dataDir: pg.dataDir, undo: undoCommand(pg, extra), reseed: reseedCommand(pg) },
      appServers: {
        ssh: {
          hosts: [h.spec],
          start: `${opts.appStartDelayS ? `sleep ${opts.appStartDelayS}; ` : ''}${Object.entries(appDbEnv(pg)).map(([k, v]) => `${k}=${v}`).join(' ')} ${h.root}/bin/slot start blue ${appPort} v1`,
          stop: `${h.root}/bin/slot stop blue`,
          healthUrl: `http://{{address}}:${appPort}/health`,
        },
      },
      dnsContent: [ADDRESSES[name]],
    });
    const standbySite = site('ams', ams, standby, {});
    const vultrStandby = vultr
      ? {
          ...standbySite,
          appServers: {
            vultr: { apiKeyEnv: 'VULTR_API_KEY', apiUrl: vultr.url, region: 'ams', plan: 'vc2-1c-1gb', snapshotId: 'snap-shop', count: opts.vultr!.count, tag: 'shop-standby', label: 'ams-app', healthUrl: `http://{{address}}:${appPort}/health` },
          },
          dnsContent: [],
        }
      : standbySite;
    const config = {
      temporal: { address: server.address, uiUrl: server.uiUrl },
      // For the "Confirm failover" button (cutover slack-gateway): bob may confirm, carol may not.
      slackUsers: { bob: 'U0BOB', carol: 'U0CAROL' },
      apps: { demo: { environments: { none: { hosts: [fra.spec], slots: { blue: { port: appPort }, green: { port: fra.ports.green }, start: 'true', stop: 'true' }, router: { nginx: { upstreamFile: fra.upstreamFile } } } } } },
      sites: {
        [SITE]: {
          primary: site('fra', fra, primary, primarySettings),
          standby: vultrStandby,
          dns: {
            powerdns: { apiUrl: pdns.apiUrl, zone: 'example.test.', apiKeyEnv: 'PDNS_API_KEY', nameserver: `127.0.0.1:${pdns.dnsPort}` },
            name: DNS_NAME,
            ttl: '60s',
          },
          probe: { url: `http://${ADDRESSES.fra}:${appPort}/health`, interval: `${opts.probeIntervalMs ?? 1000}ms`, timeout: '1s', failures: opts.probeFailures ?? 3 },
          smoke: { url: `http://app.example.test:${appPort}/`, versionHeader: 'X-App-Version', version: 'v1', requests: 5, watch: '2s', maxErrorRate: 0 },
          gates: { maxLagBytes: opts.maxLagBytes ?? 0, maxLagSeconds: 1, unreachablePrimary: { wait: '10s', then: 'fail' } },
          auto: opts.auto ?? false,
          confirmers: ['bob', 'alice'],
          slack: { channel: '#incidents' },
          pagerDuty: { url: pager.url, routingKeyEnv: 'PD_ROUTING_KEY' },
        },
      },
    };
    const configFile = join(dir, 'cutover.yml');
    writeFileSync(configFile, stringify(config));

    const worker = new WorkerProcess(dir, {
      TEMPORAL_ADDRESS: server.address,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      PDNS_API_KEY: pdns.apiKey,
      PD_ROUTING_KEY: 'R0UTINGKEY',
      ...(vultr ? { VULTR_API_KEY: vultr.apiKey } : {}),
    });
    stops.push(['worker', () => worker.stop()]);
    await worker.start();
    const connection = await Connection.connect({ address: server.address });
    stops.push(['client', () => connection.close()]);
    const client = new Client({ connection });
    const cutover = (args: string[], timeoutMs = 240_000): Promise<CliRun> =>
      new Promise((done) => {
        execFile(CLI, ['-c', configFile, ...args], { env: { ...process.env, USER: 'alice' }, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
          done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
        });
      });
    const restartPrimary = (): void => void execFileSync('sh', ['-c', undoCommand(primary, primarySettings)], { stdio: 'ignore', timeout: 60_000 });
    return { dir, server, client, primary, standby, pdns, fra, ams, appPort, slack, pages, vultr, worker, configFile, addresses: ADDRESSES, cutover, restartPrimary, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stop a cluster however it was started (the sandbox's daemon or pg_ctl from a fence's undo). */
async function pgCtlStop(pg: SandboxPostgres): Promise<void> {
  await pg.stop();
  await new Promise<void>((r) => execFile('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', pg.dataDir, 'stop', '-m', 'immediate', '-w'], () => r()));
}
