// `npm run demo` as a person runs it: started in a terminal (its own process group), Ctrl-C
// after the deploy. Nothing it started may be left running, and no port it opened left open.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { canConnect, cmdlineOf, sleep } from '../../sandbox/procs';

const ROOT = resolve(__dirname, '../..');

/** Every process whose command line mentions `dir`. */
function processesUnder(dir: string): string[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((pid) => `${pid} ${cmdlineOf(Number(pid)).join(' ')}`)
    .filter((line) => line.includes(dir));
}

function killLeftovers(demo: ReturnType<typeof spawn>, dir: string): void {
  if (demo.exitCode === null) process.kill(-demo.pid!, 'SIGKILL');
  for (const p of processesUnder(dir)) {
    try {
      process.kill(Number(p.split(' ')[0]), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

test('demo --exit deploys, stops everything, and prints no command for the servers it stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-demo-exit-'));
  const log: string[] = [];
  const demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sandbox/demo.ts'), '--exit'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, CUTOVER_DEMO_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (b: Buffer) => log.push(b.toString()));
  demo.stderr.on('data', (b: Buffer) => log.push(b.toString()));
  try {
    const exited = new Promise<number | null>((done) => demo.once('exit', (code) => done(code)));
    const timeout = new Promise<string>((done) => setTimeout(() => done('still running after 180 s'), 180_000).unref());
    const code = await Promise.race([exited, timeout]);
    const text = log.join('');
    assert.equal(code, 0, text.slice(-3000));
    assert.match(text, /deploy shop demo v2 --wait/);
    assert.match(text, /deployed shop\/demo v2 on green/);
    assert.match(text, /stopped: worker, hosts, PostgreSQL, Temporal \(--exit/);
    assert.doesNotMatch(text, /status: {2,}bin\/cutover|roll back: {2,}bin\/cutover|deploy more:|Temporal UI: |see it: /, 'no command or link to the stopped world');
    assert.deepEqual(processesUnder(dir), [], 'no process the demo started is left');
  } finally {
    killLeftovers(demo, dir);
  }
});

test('Ctrl-C on the demo after its deploy (its audit line shows the deploy) stops the worker, the hosts, PostgreSQL and Temporal, and leaves nothing behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-demo-'));
  const log: string[] = [];
  // As scripts/demo.sh runs it: node itself with tsx's loader, no relaying parent process.
  const demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sandbox/demo.ts')], {
    cwd: ROOT,
    detached: true, // its own process group, as a terminal's foreground job
    env: { ...process.env, CUTOVER_DEMO_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (b: Buffer) => log.push(b.toString()));
  demo.stderr.on('data', (b: Buffer) => log.push(b.toString()));
  const exited = new Promise<number | null>((done) => demo.once('exit', (code) => done(code)));
  const text = (): string => log.join('');
  try {
    const deadline = Date.now() + 180_000;
    while (!text().includes('running until Ctrl-C')) {
      assert.ok(Date.now() < deadline && demo.exitCode === null, `the demo never got to its deploy:\n${text().slice(-3000)}`);
      await sleep(200);
    }
    const started = processesUnder(dir);
    assert.ok(started.some((p) => p.includes('sshd')) && started.some((p) => p.includes('nginx')) && started.some((p) => p.includes('temporal')), `the demo started its world:\n${started.join('\n')}`);
    const ports = [...text().matchAll(/http:\/\/127\.0\.0\.\d+:(\d+)/g)].map((m) => Number(m[1]));
    const addresses = [...new Set(text().match(/127\.0\.0\.\d+:\d+/g) ?? [])];
    assert.ok(ports.length > 0, 'the demo printed the UI and router URLs');

    assert.ok(started.some((p) => p.includes('postgres')), 'and the audit log database');
    // The audit command it prints shows the deploy it just made.
    const auditLine = /audit log:\s+(bin\/cutover .*?)\s{3}/.exec(text())?.[1];
    assert.ok(auditLine, 'the demo prints a cutover audit line to try');
    const audit = execFileSync('bash', ['-c', auditLine], { cwd: ROOT, encoding: 'utf8' });
    assert.match(audit, /shop\/demo\s+requested\s+\S+\s+v2/);
    assert.match(audit, /shop\/demo\s+succeeded\s+\S+\s+v2\s+v2 serves all traffic on green/);

    process.kill(-demo.pid!, 'SIGINT'); // what Ctrl-C in a terminal does
    const timeout = new Promise<string>((done) => setTimeout(() => done('still running after 60 s'), 60_000).unref());
    const code = await Promise.race([exited, timeout]);
    assert.equal(code, 0, `the demo exits 0 after Ctrl-C:\n${text().slice(-2000)}`);
    assert.doesNotMatch(text(), /IllegalStateError|cleanup problems/, 'a clean stop');
    assert.match(text(), /stopped: worker, hosts, PostgreSQL, Temporal/);
    assert.deepEqual(processesUnder(dir), [], 'no process the demo started is left');
    for (const a of addresses) {
      const [host, port] = a.split(':');
      assert.equal(await canConnect(host!, Number(port), 500), false, `${a} is closed`);
    }
    assert.doesNotMatch(readFileSync(join(dir, 'cutover.yml'), 'utf8'), /^$/, 'it wrote its config');
  } finally {
    killLeftovers(demo, dir);
  }
});

test('Ctrl-C on the failover demo while the failover runs stops it at once and leaves nothing behind', async () => {
  const log: string[] = [];
  const demo = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'sandbox/demo.ts'), '--failover'], {
    cwd: ROOT,
    detached: true,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (b: Buffer) => log.push(b.toString()));
  demo.stderr.on('data', (b: Buffer) => log.push(b.toString()));
  const exited = new Promise<number | null>((done) => demo.once('exit', (code) => done(code)));
  const text = (): string => log.join('');
  let dir = '';
  try {
    const deadline = Date.now() + 240_000;
    while (!text().includes('killing fra')) {
      assert.ok(Date.now() < deadline && demo.exitCode === null, `the failover demo never got to its failover:\n${text().slice(-3000)}`);
      await sleep(200);
    }
    dir = /config: (\S+)\/cutover\.yml/.exec(text())?.[1] ?? '';
    assert.ok(dir, 'the demo printed its config');
    const started = processesUnder(dir);
    assert.ok(started.some((p) => p.includes('postgres')) && started.some((p) => p.includes('pdns')), `the demo started its world:\n${started.join('\n')}`);

    process.kill(-demo.pid!, 'SIGINT');
    const timeout = new Promise<string>((done) => setTimeout(() => done('still running after 90 s'), 90_000).unref());
    const code = await Promise.race([exited, timeout]);
    assert.equal(code, 0, `the demo exits 0 after Ctrl-C:\n${text().slice(-2000)}`);
    assert.match(text(), /SIGINT: stopping everything/);
    assert.doesNotMatch(text(), /kill → verified on ams/, 'it did not wait for the failover to end');
    assert.match(text(), /stopped: worker, sites, PowerDNS, PostgreSQL, Temporal/);
    // A cutover CLI the demo ran may take a moment to see Temporal gone.
    const gone = Date.now() + 15_000;
    while (processesUnder(dir).length > 0 && Date.now() < gone) await sleep(250);
    assert.deepEqual(processesUnder(dir), [], 'no process the demo started is left');
  } finally {
    if (dir) killLeftovers(demo, dir);
    else if (demo.exitCode === null) process.kill(-demo.pid!, 'SIGKILL');
  }
});
