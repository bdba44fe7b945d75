// What an nginx reload (cutover's switch: write, `nginx -t`, `nginx -s reload`) does to the
// client connections open at that moment, on a real sandbox host (sshd + nginx + the sample
// app), with the switch script run over SSH as the switchRouter activity runs it. This is the
// cause of the requests the blue-green benchmark saw fail at the switch: the retiring worker
// closes its idle keep-alive connections at once, so a request a client sends on one of them
// at that instant gets no answer (and must be re-sent, as browsers do). Everything else open
// at the reload is answered: a request in flight, and a connection accepted but not yet read.
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderUpstream, switchUpstreamCommand } from '../../activities/nginx/commands';
import { createSsh } from '../../activities/ssh/client';
import { freePort, hostAddress, sandboxPlan, startHost, type SandboxHost } from '../../sandbox/world';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ssh = createSsh({ connectTimeoutMs: 5000 });
const SLOW_MS = 1500;
let base: string;
let host: SandboxHost;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'cutover-reload-'));
  const address = hostAddress(0);
  host = await startHost({
    name: 'web1',
    root: join(base, 'web1'),
    upstreamName: 'app_web',
    address,
    ports: { blue: await freePort(address), green: await freePort(address), nginx: await freePort(address), ssh: await freePort(address) },
    // v1 answers after SLOW_MS, so a request to it is still in flight when nginx reloads.
    releases: { v1: { latencyMs: SLOW_MS }, v2: undefined },
    initial: { color: 'blue', version: 'v1' },
  });
  await exec(join(host.root, 'bin', 'slot'), ['start', 'green', String(host.ports.green), 'v2']);
});

after(async () => {
  ssh.close();
  await host?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

interface Conn {
  socket: net.Socket;
  /** Everything received so far. */
  data(): string;
  /** Resolves with everything received when the server closes the connection. */
  closed: Promise<string>;
}

async function connect(): Promise<Conn> {
  const socket = net.connect(host.ports.nginx, host.address);
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (buf += d));
  const closed = new Promise<string>((resolve) => {
    socket.once('close', () => resolve(buf));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, data: () => buf, closed };
}

const request = 'GET / HTTP/1.1\r\nHost: shop\r\n\r\n';
const header = (response: string, name: string): string | undefined =>
  new RegExp(`^${name}: *(.*?)\\r$`, 'im').exec(response)?.[1];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: () => string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what()}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

test('a reload closes idle keep-alive connections at once, and answers every request it had accepted', async () => {
  // An idle keep-alive connection: one answer received, nothing sent since.
  const idle = await connect();
  idle.socket.write(request);
  await until(() => `first answer on the keep-alive connection (got ${JSON.stringify(idle.data())})`, () => /\r\n0\r\n\r\n$/.test(idle.data()), SLOW_MS + 5000);
  assert.match(idle.data(), /^HTTP\/1\.1 200[^]*\r\nv1 \(blue\)\n/);
  assert.equal(header(idle.data(), 'Connection'), 'keep-alive');
  const answeredBefore = idle.data();

  // A request in flight (v1 takes SLOW_MS), and a connection accepted but not yet read.
  const inFlight = await connect();
  inFlight.socket.write(request);
  const accepted = await connect();
  await sleep(200);

  const router = sandboxPlan([host], { app: 'shop', env: 'prod' }).router;
  const content = renderUpstream({ upstreamName: host.upstreamName, address: host.address, color: 'green', version: 'v2', port: host.ports.green, backupPort: host.ports.blue });
  const switchedAt = Date.now();
  const r = await ssh.withSession(host.spec, (s) => s.exec(switchUpstreamCommand(router, host.spec), { stdin: content, timeoutMs: 30_000 }));
  assert.equal(r.code, 0, r.stderr);

  // The idle keep-alive connection is closed by the server, without a byte more: a request
  // sent on it at this moment would get no answer.
  const idleEnd = await Promise.race([idle.closed, sleep(3000).then(() => 'still open')]);
  assert.equal(idleEnd, answeredBefore, 'the idle keep-alive connection was closed at the reload, with no further bytes');
  assert.ok(Date.now() - switchedAt < 3000);

  // The accepted connection, still unread at the reload, is answered when its request comes,
  // by the retiring worker (old config, so v1), which then closes it.
  accepted.socket.write(request);
  const acceptedAnswer = await Promise.race([accepted.closed, sleep(SLOW_MS + 5000).then(() => 'no answer')]);
  assert.match(acceptedAnswer, /^HTTP\/1\.1 200/, acceptedAnswer);
  assert.equal(header(acceptedAnswer, 'Connection'), 'close');

  // The request in flight at the reload completes (no worker_shutdown_timeout cuts it short).
  const inFlightAnswer = await Promise.race([inFlight.closed, sleep(SLOW_MS + 5000).then(() => 'no answer')]);
  assert.match(inFlightAnswer, /^HTTP\/1\.1 200/, inFlightAnswer);
  assert.match(inFlightAnswer, /\r\nv1 \(blue\)\n/);
  assert.equal(header(inFlightAnswer, 'Connection'), 'close', 'the retiring worker tells the client not to reuse the connection');

  // A new connection now reaches the new worker: v2.
  const fresh = await connect();
  fresh.socket.write('GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n');
  assert.match(await fresh.closed, /^HTTP\/1\.1 200[^]*\r\nv2 \(green\)\n/);
});
