// SSH adapter on ssh2: one shared connection per host (strict host key checking), a bounded
// number of commands at once on it, exec with timeout and stdin. The pure helpers (fingerprint,
// key line parsing, path expansion) are exported for unit tests.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants as osConstants, homedir } from 'node:os';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { HostSpec } from '../../contract/spec';
import { quote } from '../shell';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}
export interface ExecOptions {
  timeoutMs?: number;
  stdin?: string;
}
export interface SshSession {
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
}
export interface SshDeps {
  env?: NodeJS.ProcessEnv;
  connectTimeoutMs?: number;
  /**
   * Commands running at once on one host; more wait their turn. OpenSSH allows 10 sessions per
   * connection (MaxSessions), and one connection per host is kept, so stay below that.
   */
  maxSessionsPerHost?: number;
  /** Close a host's connection once it has been unused this long. */
  idleCloseMs?: number;
}
export interface Ssh {
  /** Run fn with the host's shared connection (opened, or reopened after a drop, on demand). */
  withSession<T>(host: HostSpec, fn: (s: SshSession) => Promise<T>): Promise<T>;
  /** Close every connection. */
  close(): void;
}

// ---------- errors (name = class name, so Temporal failures carry it as the type) ----------

const where = (h: HostSpec): string => `${h.name} (${h.address}:${h.port})`;

/** Cut long text for messages: at most `lines` lines and `chars` characters. */
export function truncate(text: string, chars = 400, lines = 5): string {
  const all = text.trimEnd().split('\n');
  let out = all.slice(0, lines).join('\n');
  if (out.length > chars) out = out.slice(0, chars);
  return out.length < text.trimEnd().length ? `${out} …` : out;
}

export class SshExecError extends Error {
  override name = 'SshExecError';
  constructor(
    public host: string,
    public command: string,
    public code: number,
    public stderr: string,
  ) {
    super(`${host}: command exited ${code}: ${truncate(stderr) || '(no stderr)'}`);
    this.command = truncate(command, 500, 20);
  }
}

export class HostKeyRejectedError extends Error {
  override name = 'HostKeyRejectedError';
}

export class SshConnectError extends Error {
  override name = 'SshConnectError';
}

/** The private key file is missing or unreadable (a configuration error, not transient). */
export class SshKeyFileError extends SshConnectError {
  override name = 'SshKeyFileError';
}

export class SshTimeoutError extends Error {
  override name = 'SshTimeoutError';
}

// ---------- pure helpers ----------

/** "SHA256:<base64 without padding>", as `ssh-keygen -lf` prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export type ExpectedHostKey =
  | { kind: 'key'; type: string; blob: Buffer; fingerprint: string }
  | { kind: 'fingerprint'; fingerprint: string };

/**
 * Parse `host.hostKey`: a `.pub` / known_hosts style line (`[hosts] type base64 [comment]`)
 * or a `SHA256:` fingerprint. Throws on anything else.
 */
export function parseHostKey(text: string): ExpectedHostKey {
  const s = text.trim();
  const fp = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(s);
  if (fp) return { kind: 'fingerprint', fingerprint: `SHA256:${fp[1]}` };
  const words = s.split(/\s+/);
  for (let i = 0; i + 1 < words.length; i++) {
    const type = words[i] as string;
    const b64 = words[i + 1] as string;
    if (!/^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+$/.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const blob = Buffer.from(b64, 'base64');
    // The blob starts with its own type as an SSH string; it must agree with the line.
    const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    if (len < 0 || blob.subarray(4, 4 + len).toString('latin1') !== type) {
      throw new Error(`hostKey: the key data does not match its type ${type}`);
    }
    return { kind: 'key', type, blob, fingerprint: fingerprintOf(blob) };
  }
  throw new Error(
    `hostKey: ${JSON.stringify(truncate(s, 80, 1))} is neither a public key line ("ssh-ed25519 AAAA...") nor a SHA256: fingerprint`,
  );
}

/** Does the key the server presented match what we expect? Exact comparison only. */
export function hostKeyMatches(expected: ExpectedHostKey, presented: Buffer): boolean {
  return expected.kind === 'key' ? expected.blob.equals(presented) : expected.fingerprint === fingerprintOf(presented);
}

/** Expand a leading `~` and `${VAR}` / `$VAR` references from env. Unset variables are an error. */
export function expandPath(p: string, env: NodeJS.ProcessEnv = process.env): string {
  const vars = p.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, a?: string, b?: string) => {
    const name = (a ?? b) as string;
    const v = env[name];
    if (v === undefined) throw new Error(`environment variable ${name} used in ${JSON.stringify(p)} is not set`);
    return v;
  });
  if (vars === '~' || vars.startsWith('~/')) return (env.HOME ?? homedir()) + vars.slice(1);
  return vars;
}

/** Host key algorithms to offer so the server presents the key type we expect. */
function hostKeyAlgorithms(expected: ExpectedHostKey): string[] | undefined {
  if (expected.kind !== 'key') return undefined;
  return expected.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [expected.type];
}

function signalCode(signal: string | undefined): number {
  if (!signal) return 255;
  const n = (osConstants.signals as Record<string, number | undefined>)[`SIG${signal}`];
  return n === undefined ? 255 : 128 + n;
}

// ---------- exec ----------

/**
 * Send an SSH "signal" channel request. ssh2's Channel.signal() silently does nothing once
 * stdin has been ended (it checks `writable`), and we always end stdin, so go through the
 * protocol object (ssh2 1.17 internals) while the channel is open or half-closed.
 */
function sendSignal(client: Client, stream: ClientChannel, signal: string): void {
  const proto = (client as unknown as { _protocol?: { signal(id: number, sig: string): void } })._protocol;
  const out = stream.outgoing as { id?: number; state?: string } | undefined;
  if (proto && out?.id !== undefined && (out.state === 'open' || out.state === 'eof')) proto.signal(out.id, signal);
}

/**
 * With a timeout, run the command under coreutils `timeout` on the host too (in its own process
 * group, in the login shell, a second after our own deadline). OpenSSH refuses "signal" requests
 * for root logins, and a signal reaches only the shell, so this is what reliably ends the
 * remote work. Hosts without `timeout` just run the command.
 */
export function withRemoteTimeout(command: string, timeoutMs: number): string {
  const secs = ((timeoutMs + 1000) / 1000).toFixed(3);
  const sh = '"${SHELL:-/bin/sh}"';
  return [
    `c=${quote(command)}`,
    `if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 ${secs} ${sh} -c "$c"; fi`,
    `exec ${sh} -c "$c"`,
  ].join('; ');
}

function execOn(client: Client, host: HostSpec, command: string, opts: ExecOptions): Promise<ExecResult> {
  const remote = opts.timeoutMs === undefined ? command : withRemoteTimeout(command, opts.timeoutMs);
  return new Promise<ExecResult>((resolve, reject) => {
    client.exec(remote, (err: Error | undefined, stream: ClientChannel) => {
      if (err) return reject(new SshConnectError(`${where(host)}: cannot start command: ${err.message}`));
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        f();
      };
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        timer = setTimeout(() => {
          finish(() => {
            try {
              sendSignal(client, stream, 'KILL');
            } catch {
              /* channel may be gone already */
            }
            stream.close();
            reject(new SshTimeoutError(`${host.name}: command did not finish within ${ms} ms: ${truncate(command, 200, 3)}`));
          });
        }, ms);
      }
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', (d: Buffer) => errOut.push(d));
      stream.on('close', (code: number | null | undefined, signal?: string) => {
        finish(() => {
          const stdout = Buffer.concat(out).toString('utf8');
          const stderr = Buffer.concat(errOut).toString('utf8');
          if (typeof code === 'number') return resolve({ code, stdout, stderr });
          if (signal) return resolve({ code: signalCode(signal), stdout, stderr });
          reject(new SshConnectError(`${where(host)}: connection lost while running: ${truncate(command, 200, 3)}`));
        });
      });
      if (opts.stdin !== undefined) stream.end(opts.stdin);
      else stream.end();
    });
  });
}

/** exec that throws SshExecError on non-zero exit; returns stdout. */
export async function run(s: SshSession, host: HostSpec, command: string, opts?: ExecOptions): Promise<string> {
  const r = await s.exec(command, opts);
  if (r.code !== 0) throw new SshExecError(host.name, command, r.code, r.stderr);
  return r.stdout;
}

// ---------- connect ----------

function readKey(host: HostSpec, env: NodeJS.ProcessEnv): Buffer {
  let path = host.privateKeyPath;
  try {
    path = expandPath(host.privateKeyPath, env);
    return readFileSync(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SshKeyFileError(`${host.name}: cannot read private key ${path} (privateKeyPath): ${why}`);
  }
}

function connect(host: HostSpec, deps: SshDeps): Promise<Client> {
  let expected: ExpectedHostKey;
  try {
    expected = parseHostKey(host.hostKey);
  } catch (e) {
    // Never connect without a usable expected key.
    throw new HostKeyRejectedError(`${host.name}: ${e instanceof Error ? e.message : String(e)}; fix hostKey in cutover.yml`);
  }
  const privateKey = readKey(host, deps.env ?? process.env);
  let presented: Buffer | undefined;
  let rejected = false;
  const cfg: ConnectConfig = {
    host: host.address,
    port: host.port,
    username: host.user,
    privateKey,
    readyTimeout: deps.connectTimeoutMs ?? 20_000,
    // A shared connection outlives any one command: notice a silently dead peer (~15 s).
    keepaliveInterval: 5_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer): boolean => {
      presented = key;
      rejected = !hostKeyMatches(expected, key);
      return !rejected;
    },
  };
  const algos = hostKeyAlgorithms(expected);
  if (algos) cfg.algorithms = { serverHostKey: algos as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };

  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => {
      client.removeAllListeners('error');
      client.on('error', () => undefined); // later errors surface through the exec channels
      resolve(client);
    });
    client.once('error', (err: Error) => {
      client.end();
      if (rejected && presented) {
        const want = expected.kind === 'key' ? `${expected.type} key ${expected.fingerprint}` : expected.fingerprint;
        return reject(
          new HostKeyRejectedError(
            `${where(host)}: host key mismatch: expected ${want}, the server presented ${fingerprintOf(presented)}. ` +
              `Refusing to connect. If the host key really changed, update hostKey for host ${host.name} in cutover.yml.`,
          ),
        );
      }
      reject(new SshConnectError(`${where(host)}: cannot connect as ${host.user}: ${err.message}`));
    });
    client.connect(cfg);
  });
}

/** At most `n` holders at once; the others wait in order. */
function semaphore(n: number): { acquire(): Promise<() => void> } {
  let free = n;
  const queue: Array<() => void> = [];
  return {
    async acquire() {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => queue.push(resolve));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const next = queue.shift();
        if (next) next();
        else free++;
      };
    },
  };
}

interface HostConnection {
  client?: Promise<Client>;
  sessions: ReturnType<typeof semaphore>;
  busy: number;
  idleTimer?: NodeJS.Timeout;
}

/** ssh2 keeps its socket private; an idle pooled connection must not keep the process alive. */
function setSocketRef(client: Client, ref: boolean): void {
  const sock = (client as unknown as { _sock?: { ref?(): void; unref?(): void } })._sock;
  if (ref) sock?.ref?.();
  else sock?.unref?.();
}

/**
 * One connection per host, shared by every activity that runs there: a deploy's many short
 * commands then cost a channel each instead of a login each, and hundreds of environments on
 * the same hosts do not storm sshd with logins (MaxStartups). A dropped connection is
 * forgotten at once; the next command reconnects.
 */
export function createSsh(deps: SshDeps = {}): Ssh {
  const maxSessions = deps.maxSessionsPerHost ?? 8;
  const idleCloseMs = deps.idleCloseMs ?? 30_000;
  const hosts = new Map<string, HostConnection>();
  const keyOf = (h: HostSpec): string => JSON.stringify([h.address, h.port, h.user, h.privateKeyPath, h.hostKey]);

  function clientFor(conn: HostConnection, host: HostSpec): Promise<Client> {
    if (conn.client) return conn.client;
    const pending = connect(host, deps);
    conn.client = pending;
    const forget = (): void => {
      if (conn.client === pending) conn.client = undefined;
    };
    pending.then((c) => c.once('close', forget), forget);
    return pending;
  }

  async function exec(conn: HostConnection, host: HostSpec, command: string, opts: ExecOptions): Promise<ExecResult> {
    const release = await conn.sessions.acquire();
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.busy++;
    let client: Client | undefined;
    try {
      client = await clientFor(conn, host);
      setSocketRef(client, true);
      return await execOn(client, host, command, opts);
    } finally {
      conn.busy--;
      release();
      if (conn.busy === 0 && client) {
        const idle = client;
        setSocketRef(idle, false);
        conn.idleTimer = setTimeout(() => idle.end(), idleCloseMs).unref();
      }
    }
  }

  return {
    async withSession<T>(host: HostSpec, fn: (s: SshSession) => Promise<T>): Promise<T> {
      const key = keyOf(host);
      let conn = hosts.get(key);
      if (!conn) {
        conn = { sessions: semaphore(maxSessions), busy: 0 };
        hosts.set(key, conn);
      }
      const c = conn;
      return fn({ exec: (command, opts) => exec(c, host, command, opts ?? {}) });
    },
    close(): void {
      for (const conn of hosts.values()) {
        if (conn.idleTimer) clearTimeout(conn.idleTimer);
        conn.client?.then((c) => c.end(), () => undefined);
      }
      hosts.clear();
    },
  };
}
