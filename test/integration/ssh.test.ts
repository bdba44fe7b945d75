// The SSH adapter and the sandbox host, against a real sshd + nginx + app on loopback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createSsh,
  HostKeyRejectedError,
  run,
  SshConnectError,
  SshExecError,
  SshKeyFileError,
  SshTimeoutError,
} from '../../activities/ssh/client';
import type { HostSpec } from '../../contract';
import { freePort, hostAddress, startHost, type SandboxHost } from '../../sandbox/world';

const ssh = createSsh({ connectTimeoutMs: 5000 });
let base: string;
let host: SandboxHost;

/** Does any process run exactly this argv? */
function running(argv: string[]): boolean {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') === argv.join(' ');
      } catch {
        return false;
      }
    });
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cutover-ssh-'));
  const address = hostAddress(0);
  host = await startHost({
    name: 'web-1',
    root: join(base, 'web-1'),
    upstreamName: 'app_web',
    address,
    ports: { blue: await freePort(address), green: await freePort(address), nginx: await freePort(address), ssh: await freePort(address) },
    releases: { '1.0.0': undefined, '2.0.0': undefined },
    initial: { color: 'blue', version: '1.0.0' },
  });
});

after(async () => {
  ssh.close();
  await host?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('exec', () => {
  it('returns stdout, stderr and the exit code', async () => {
    await ssh.withSession(host.spec, async (s) => {
      assert.deepEqual(await s.exec('echo hello; echo warn >&2'), { code: 0, stdout: 'hello\n', stderr: 'warn\n' });
      assert.equal((await s.exec('exit 7')).code, 7);
      assert.equal(await run(s, host.spec, 'printf %s "$USER"'), host.spec.user);
    });
  });

  it('30 commands at once on one host share one connection, at most maxSessionsPerHost at a time, and all succeed', async () => {
    const pool = createSsh({ maxSessionsPerHost: 4 });
    try {
      const started = Date.now();
      // $SSH_CLIENT is "<client address> <client port> <server port>": one port, one connection.
      const outs = await Promise.all(
        Array.from({ length: 30 }, () => pool.withSession(host.spec, (s) => run(s, host.spec, 'echo "$SSH_CLIENT"; sleep 0.2'))),
      );
      const elapsed = Date.now() - started;
      assert.equal(new Set(outs.map((o) => o.trim())).size, 1, `connections: ${[...new Set(outs)].join(', ')}`);
      assert.ok(elapsed >= Math.ceil(30 / 4) * 200, `30 x 0.2 s with 4 at a time took only ${elapsed} ms`);
    } finally {
      pool.close();
    }
  });

  it('run() throws SshExecError with code and stderr on non-zero exit', async () => {
    const err = await ssh
      .withSession(host.spec, (s) => run(s, host.spec, 'echo first >&2; echo second >&2; exit 4'))
      .catch((e: unknown) => e);
    assert.ok(err instanceof SshExecError);
    assert.equal(err.code, 4);
    assert.equal(err.stderr, 'first\nsecond\n');
    assert.equal(err.message, 'web-1: command exited 4: first\nsecond');
  });

  it('times out with SshTimeoutError and kills the remote command', async () => {
    const started = Date.now();
    const err = await ssh.withSession(host.spec, (s) => s.exec('sleep 31.25; echo never', { timeoutMs: 300 })).catch((e: unknown) => e);
    assert.ok(err instanceof SshTimeoutError, String(err));
    assert.ok(Date.now() - started < 5000);
    for (let i = 0; i < 100 && running(['sleep', '31.25']); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(running(['sleep', '31.25']), false, 'remote sleep still running');
  });

  it('a timeout that does not expire changes nothing (exit code, output, quoting)', async () => {
    const r = await ssh.withSession(host.spec, (s) =>
      s.exec(`printf '%s\\n' "it's" 'a "test"'; echo err >&2; exit 5`, { timeoutMs: 5000, stdin: 'x' }),
    );
    assert.deepEqual(r, { code: 5, stdout: 'it\'s\na "test"\n', stderr: 'err\n' });
  });

  it('delivers stdin', async () => {
    const text = 'line one\nline "two" $HOME\n'.repeat(1000);
    const out = await ssh.withSession(host.spec, (s) => run(s, host.spec, 'cat', { stdin: text }));
    assert.equal(out, text);
  });
});

describe('host key checking', () => {
  const marker = (): string => join(base, 'must-not-exist');
  const touch = (): string => `touch ${marker()}`;

  async function expectRejected(spec: HostSpec): Promise<HostKeyRejectedError> {
    const err = await ssh.withSession(spec, (s) => run(s, spec, touch())).catch((e: unknown) => e);
    assert.ok(err instanceof HostKeyRejectedError, String(err));
    assert.equal(existsSync(marker()), false, 'command ran despite a rejected host key');
    return err;
  }

  it('rejects a different key and explains how to fix it', async () => {
    const other = join(base, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrong = readFileSync(`${other}.pub`, 'utf8').trim();
    const err = await expectRejected({ ...host.spec, hostKey: wrong });
    const presented = execFileSync('ssh-keygen', ['-lf', join(host.root, 'ssh', 'ssh_host_ed25519_key.pub')], {
      encoding: 'utf8',
    }).split(' ')[1] as string;
    const expected = execFileSync('ssh-keygen', ['-lf', `${other}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
    assert.ok(err.message.includes('web-1'), err.message);
    assert.ok(err.message.includes(expected), err.message);
    assert.ok(err.message.includes(presented), err.message);
    assert.match(err.message, /update hostKey.*cutover\.yml/);
  });

  it('rejects a wrong SHA256 fingerprint', async () => {
    await expectRejected({ ...host.spec, hostKey: 'SHA256:ZNwgAdgk9yONf0ChrYeEaRkhuWo2AIU0W+7+PHnKHJI' });
  });

  it('refuses to connect with an unusable hostKey', async () => {
    const err = await expectRejected({ ...host.spec, hostKey: 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48' });
    assert.match(err.message, /web-1: hostKey: .*neither/);
  });

  it('accepts the right SHA256 fingerprint', async () => {
    const fp = execFileSync('ssh-keygen', ['-lf', join(host.root, 'ssh', 'ssh_host_ed25519_key.pub')], {
      encoding: 'utf8',
    }).split(' ')[1] as string;
    const spec = { ...host.spec, hostKey: fp };
    assert.equal(await ssh.withSession(spec, (s) => run(s, spec, 'echo ok')), 'ok\n');
  });
});

describe('connection problems', () => {
  it('a missing private key names the path and host', async () => {
    const spec = { ...host.spec, privateKeyPath: '${HOME}/no/such/key' };
    const err = await ssh.withSession(spec, (s) => run(s, spec, 'true')).catch((e: unknown) => e);
    assert.ok(err instanceof SshKeyFileError && err instanceof SshConnectError, String(err));
    assert.ok(err.message.includes('web-1') && err.message.includes('/no/such/key'), err.message);
  });

  it('sshd down gives SshConnectError naming address:port; back up works again', async () => {
    await host.stopSsh();
    try {
      const err = await ssh.withSession(host.spec, (s) => run(s, host.spec, 'true')).catch((e: unknown) => e);
      assert.ok(err instanceof SshConnectError, String(err));
      assert.ok(err.message.includes(`${host.spec.address}:${host.spec.port}`), err.message);
    } finally {
      await host.startSsh();
    }
    assert.equal(await ssh.withSession(host.spec, (s) => run(s, host.spec, 'echo back')), 'back\n');
  });
});

describe('sandbox host', () => {
  const slot = (): string => join(host.root, 'bin', 'slot');

  it('slot start/stop work and are idempotent', async () => {
    const port = host.ports.green;
    await ssh.withSession(host.spec, async (s) => {
      await run(s, host.spec, `${slot()} start green ${port} 2.0.0`);
      const first = host.pidOf('green');
      assert.ok(first);
      await run(s, host.spec, `${slot()} start green ${port} 2.0.0`);
      const second = host.pidOf('green');
      assert.ok(second);
      assert.equal(host.pidOf('green'), second);
      assert.equal(first === second || host.pidOf('green') === second, true);
      const body = await run(s, host.spec, `curl -sS --retry 20 --retry-connrefused --retry-delay 0 http://${host.address}:${port}/`);
      assert.equal(body, '2.0.0 (green)\n');
      await run(s, host.spec, `${slot()} stop green`);
      assert.equal(host.pidOf('green'), null);
      await run(s, host.spec, `${slot()} stop green`);
      assert.equal(host.pidOf('green'), null);
      assert.ok(host.pidOf('blue'), 'blue must be untouched');
    });
  });

  it('a missing version exits 3 with a message', async () => {
    const r = await ssh.withSession(host.spec, (s) => s.exec(`${slot()} start green ${host.ports.green} 9.9.9`));
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'version 9.9.9 is not installed on this host (releases/9.9.9)\n');
    assert.equal(host.pidOf('green'), null);
  });

  it('nginx serves the initial version through the router URL', async () => {
    const res = await fetch(host.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-app-version'), '1.0.0');
    assert.equal(res.headers.get('x-app-color'), 'blue');
    assert.equal(await res.text(), '1.0.0 (blue)\n');
    assert.match(host.readUpstream(), /color=blue version=1\.0\.0[\s\S]*server 127\.0\.0\.11:\d+;/);
    const fromHost = await ssh.withSession(host.spec, (s) => run(s, host.spec, `curl -sS ${host.url}health`));
    assert.deepEqual(JSON.parse(fromHost), { status: 'ok', version: '1.0.0', color: 'blue' });
  });
});
