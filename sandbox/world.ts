// The local sandbox world: "hosts" that are directories on this machine, each with its own
// sshd, nginx and sample app slots, all on loopback. Used by the demo, integration tests and
// the benchmark. Each host gets its own loopback address (127.0.0.11, ...) so that all hosts
// can share the same slot and nginx ports, as real hosts would.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { renderUpstream } from '../activities/nginx/commands';
import { quote } from '../activities/shell';
import type { Color, HostSpec, Plan, StrategySpec } from '../contract';
import type { SshPlan } from '../contract/plan-kinds';
import { childrenOf, cmdlineOf, isAlive, spawnDaemon, waitForTcp, type Daemon } from './procs';

export { freePort } from './procs';
export { startDevServer, type DevServer, type DevServerOptions } from './devserver';

const exec = promisify(execFile);
const SANDBOX_DIR = __dirname;
export const NGINX_BIN = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const SSHD_BIN = '/usr/sbin/sshd';

/** What a release does differently from a healthy one (written as behaviour.json). */
export interface Behaviour {
  healthStatus?: number;
  crashAfterMs?: number;
  /** Exit right after answering this many requests (deterministic, unlike crashAfterMs). */
  crashAfterRequests?: number;
  startDelayMs?: number;
  /** Share (0-1) of app requests (not /health, not /metrics) answered with HTTP 500. */
  errorRate?: number;
  /** Extra latency added to every app request, in ms. */
  latencyMs?: number;
}

export interface SandboxPorts {
  blue: number;
  green: number;
  nginx: number;
  ssh: number;
}

export interface StartHostOptions {
  name: string;
  /** Host directory; for sandboxPlan it must be `<base>/<name>`. */
  root: string;
  upstreamName: string;
  /** Loopback address sshd, nginx and the app bind to. Default 127.0.0.1. */
  address?: string;
  ports: SandboxPorts;
  /** version -> behaviour (undefined = a normal, healthy release). */
  releases: Record<string, Behaviour | undefined>;
  initial?: { color: Color; version: string };
}

export interface SandboxHost {
  spec: HostSpec;
  name: string;
  root: string;
  address: string;
  upstreamName: string;
  ports: SandboxPorts;
  /** The router (nginx) URL, e.g. http://127.0.0.11:18080/ */
  url: string;
  upstreamFile: string;
  /** Stop app slots, nginx and sshd. Idempotent. */
  stop(): Promise<void>;
  stopSsh(): Promise<void>;
  startSsh(): Promise<void>;
  /** Pid of the live app process of that colour, or null. */
  pidOf(color: Color): number | null;
  /** The upstream include file, or '' if it does not exist yet. */
  readUpstream(): string;
}

/** Loopback address for the i-th host of a sandbox (0-based): 127.0.0.11, 127.0.0.12, ... */
export const hostAddress = (i: number): string => `127.0.0.${11 + i}`;

function nginxConf(root: string, address: string, port: number, upstreamName: string): string {
  const p = join(root, 'nginx');
  const asRoot = process.getuid?.() === 0;
  return `# sandbox nginx for ${basename(root)}; started with -g 'daemon off;' by sandbox/world.ts
${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${p}/nginx.pid;
error_log ${p}/logs/error.log warn;
events { worker_connections 512; }
http {
  access_log ${p}/logs/access.log;
  client_body_temp_path ${p}/tmp/client_body;
  proxy_temp_path ${p}/tmp/proxy;
  fastcgi_temp_path ${p}/tmp/fastcgi;
  uwsgi_temp_path ${p}/tmp/uwsgi;
  scgi_temp_path ${p}/tmp/scgi;
  # The glob lets nginx start before the first deploy wrote upstream.conf.
  include ${p}/upstream.con[f];
  server {
    listen ${address}:${port};
    location / {
      # A variable so a missing upstream block is a 502 at request time, not a config error.
      set $cutover_upstream ${upstreamName};
      proxy_pass http://$cutover_upstream;
      proxy_connect_timeout 2s;
      proxy_read_timeout 10s;
    }
  }
}
`;
}

function sshdConf(root: string, address: string, port: number): string {
  const s = join(root, 'ssh');
  return [
    `ListenAddress ${address}:${port}`,
    `HostKey ${s}/ssh_host_ed25519_key`,
    `AuthorizedKeysFile ${s}/authorized_keys`,
    `PidFile ${s}/sshd.pid`,
    'StrictModes no',
    'UsePAM no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'X11Forwarding no',
    'PrintMotd no',
    'MaxStartups 100',
    'MaxSessions 50',
    // Debian's bash sources ~/.bashrc for commands run by sshd unless it believes it is nested;
    // the sandbox hosts must not run the machine user's dotfiles (pyenv init here: slow, locks).
    'SetEnv SHLVL=1',
    '',
  ].join('\n');
}

async function layout(o: StartHostOptions, address: string): Promise<{ hostKey: string; clientKey: string }> {
  const r = o.root;
  for (const d of ['bin', 'releases', 'run', 'ssh', 'nginx/logs', 'nginx/tmp']) mkdirSync(join(r, d), { recursive: true });
  copyFileSync(join(SANDBOX_DIR, 'bin', 'slot'), join(r, 'bin', 'slot'));
  chmodSync(join(r, 'bin', 'slot'), 0o755);
  writeFileSync(join(r, 'address'), `${address}\n`);
  writeFileSync(join(r, 'node-bin'), `${process.execPath}\n`);
  for (const [version, behaviour] of Object.entries(o.releases)) {
    const dir = join(r, 'releases', version);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(SANDBOX_DIR, 'app', 'server.js'), join(dir, 'server.js'));
    if (behaviour) writeFileSync(join(dir, 'behaviour.json'), JSON.stringify(behaviour));
  }
  const s = join(r, 'ssh');
  for (const key of ['ssh_host_ed25519_key', 'client_ed25519']) {
    if (!existsSync(join(s, key))) {
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${o.name}-${key}`, '-f', join(s, key)]);
    }
  }
  writeFileSync(join(s, 'authorized_keys'), readFileSync(join(s, 'client_ed25519.pub')), { mode: 0o600 });
  writeFileSync(join(s, 'sshd_config'), sshdConf(r, address, o.ports.ssh));
  writeFileSync(join(r, 'nginx', 'nginx.conf'), nginxConf(r, address, o.ports.nginx, o.upstreamName));
  return {
    hostKey: readFileSync(join(s, 'ssh_host_ed25519_key.pub'), 'utf8').trim(),
    clientKey: join(s, 'client_ed25519'),
  };
}

const logTail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
};

export async function startHost(o: StartHostOptions): Promise<SandboxHost> {
  const root = resolve(o.root);
  const address = o.address ?? '127.0.0.1';
  const opts = { ...o, root };
  const { hostKey, clientKey } = await layout(opts, address);
  const slot = join(root, 'bin', 'slot');
  const upstreamFile = join(root, 'nginx', 'upstream.conf');
  let sshd: Daemon | undefined;
  let nginx: Daemon | undefined;

  const startSsh = async (): Promise<void> => {
    if (sshd?.isRunning()) return;
    mkdirSync('/run/sshd', { recursive: true });
    const log = join(root, 'ssh', 'sshd.log');
    const d = spawnDaemon(SSHD_BIN, ['-D', '-f', join(root, 'ssh', 'sshd_config'), '-E', log], log);
    sshd = d;
    await waitForTcp(`${o.name} sshd`, address, o.ports.ssh, 15_000, () =>
      d.isRunning() ? undefined : `sshd exited: ${logTail(log)}`,
    );
  };
  const stopSsh = async (): Promise<void> => {
    const d = sshd;
    if (!d?.isRunning() || d.child.pid === undefined) return;
    const sessions = childrenOf(d.child.pid); // per-connection children live in their own sessions
    await d.stop();
    for (const pid of sessions) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  const startNginx = async (): Promise<void> => {
    const p = join(root, 'nginx');
    const log = join(p, 'logs', 'stderr.log');
    const d = spawnDaemon(NGINX_BIN, ['-p', `${p}/`, '-c', 'nginx.conf', '-g', 'daemon off;'], log);
    nginx = d;
    await waitForTcp(`${o.name} nginx`, address, o.ports.nginx, 15_000, () =>
      d.isRunning() ? undefined : `nginx exited: ${logTail(log)} ${logTail(join(p, 'logs', 'error.log'))}`,
    );
  };
  const pidOf = (color: Color): number | null => {
    const file = join(root, 'run', `${color}.pid`);
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null;
    return cmdlineOf(pid).join(' ').includes(`--color ${color}`) ? pid : null;
  };

  const host: SandboxHost = {
    spec: {
      name: o.name,
      address,
      port: o.ports.ssh,
      user: userInfo().username,
      privateKeyPath: clientKey,
      hostKey,
    },
    name: o.name,
    root,
    address,
    upstreamName: o.upstreamName,
    ports: o.ports,
    url: `http://${address}:${o.ports.nginx}/`,
    upstreamFile,
    async stop(): Promise<void> {
      await Promise.all([
        exec(slot, ['stop', 'blue']).catch(() => undefined),
        exec(slot, ['stop', 'green']).catch(() => undefined),
        nginx?.stop(),
        stopSsh(),
      ]);
    },
    stopSsh,
    startSsh,
    pidOf,
    readUpstream: () => (existsSync(upstreamFile) ? readFileSync(upstreamFile, 'utf8') : ''),
  };

  try {
    await startSsh();
    if (o.initial) {
      const { color, version } = o.initial;
      await exec(slot, ['start', color, String(o.ports[color]), version]);
      writeFileSync(upstreamFile, renderUpstream({ upstreamName: o.upstreamName, address, color, version, port: o.ports[color] }));
      if (!o.releases[version]) await waitForTcp(`${o.name} app ${color}`, address, o.ports[color]);
    }
    await startNginx();
  } catch (e) {
    await host.stop();
    throw e;
  }
  return host;
}

export interface SandboxPlanOptions {
  app: string;
  env: string;
  strategy?: StrategySpec;
  teardownDelayMs?: number;
  slackChannel?: string;
}

/**
 * A Plan for sandbox hosts. The hosts share one base dir (`<base>/<name>`) and the same slot and
 * nginx ports, each on its own address; commands use the `{{host}}` placeholder and the router
 * URL the `{{address}}` placeholder (the host's ssh address).
 */
export function sandboxPlan(hosts: SandboxHost[], opts: SandboxPlanOptions): SshPlan {
  const first = hosts[0];
  if (!first) throw new Error('sandboxPlan: no hosts');
  const base = dirname(first.root);
  for (const h of hosts) {
    const problem =
      h.root !== join(base, h.name)
        ? `root ${h.root} is not ${join(base, h.name)}`
        : (['blue', 'green', 'nginx'] as const).some((k) => h.ports[k] !== first.ports[k])
          ? 'blue/green/nginx ports differ from the first host'
          : h.upstreamName !== first.upstreamName
            ? 'upstreamName differs from the first host'
            : hosts.some((o) => o !== h && o.address === h.address)
              ? `address ${h.address} is used by another host`
              : undefined;
    if (problem) throw new Error(`sandboxPlan: host ${h.name}: ${problem}`);
  }
  const dir = `${quote(base)}/{{host}}`;
  const nginx = `${NGINX_BIN} -p ${dir}/nginx/ -c nginx.conf`;
  return {
    app: opts.app,
    env: opts.env,
    platform: {
      kind: 'ssh',
      hosts: hosts.map((h) => h.spec),
      slots: {
        address: '{{address}}',
        blue: { port: first.ports.blue },
        green: { port: first.ports.green },
        start: `${dir}/bin/slot start {{color}} {{port}} {{version}}`,
        stop: `${dir}/bin/slot stop {{color}}`,
        installed: `${dir}/bin/slot installed {{version}}`,
      },
    },
    strategy: opts.strategy ?? { kind: 'blueGreen' },
    router: {
      kind: 'nginx',
      upstreamFile: `${base}/{{host}}/nginx/upstream.conf`,
      upstreamName: first.upstreamName,
      test: `${nginx} -t -q`,
      reload: `${nginx} -s reload`,
      url: `http://{{address}}:${first.ports.nginx}/`,
    },
    health: { path: '/health', expectStatus: 200, timeoutMs: 2000, intervalMs: 250, attempts: 20 },
    verify: { requests: 5, versionHeader: 'X-App-Version' },
    teardownDelayMs: opts.teardownDelayMs ?? 0,
    ...(opts.slackChannel ? { slackChannel: opts.slackChannel } : {}),
  };
}
