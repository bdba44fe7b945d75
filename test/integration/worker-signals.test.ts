// The worker as `npm run worker` / systemd run it (node dist/workers/main.js): Ctrl-C (SIGINT) and
// `systemctl stop` (SIGTERM) end it cleanly (exit 0, in seconds) once it polls. The SDK's runtime
// drains the worker on the first signal and then stops listening, so a second signal kills the
// process at once (Node's default).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startDevServer, type DevServer } from '../../sandbox/devserver';
import { sleep } from '../../sandbox/procs';

const ROOT = resolve(__dirname, '../..');
let server: DevServer;

before(async () => {
  execFileSync('bash', [join(ROOT, 'scripts/build.sh')], { stdio: 'inherit' });
  server = await startDevServer({ dir: mkdtempSync(join(tmpdir(), 'cutover-worker-signals-')) });
});
after(async () => server?.stop());

/** The environment of a plain shell with only TEMPORAL_ADDRESS set. */
function workerEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_') && !k.startsWith('CUTOVER_') && k !== 'DATABASE_URL'));
  return { ...env, TEMPORAL_ADDRESS: server.address };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} stops a polling worker cleanly: exit 0 within seconds`, async () => {
    const worker = spawn(process.execPath, [join(ROOT, 'dist/workers/main.js')], { cwd: ROOT, env: workerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stdout.on('data', (b: Buffer) => (out += b.toString()));
    worker.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((done) => worker.once('exit', (code, sig) => done([code, sig])));
    try {
      const deadline = Date.now() + 120_000;
      while (!out.includes('cutover worker polling task queue cutover')) {
        assert.ok(worker.exitCode === null && Date.now() < deadline, `the worker never polled:\n${out.slice(-2000)}`);
        await sleep(100);
      }
      const sent = Date.now();
      worker.kill(signal);
      const timeout = new Promise<string>((done) => setTimeout(() => done('still running 30 s after the signal'), 30_000).unref());
      assert.deepEqual(await Promise.race([exited, timeout]), [0, null], out.slice(-2000));
      assert.ok(Date.now() - sent < 30_000);
      assert.doesNotMatch(out, /IllegalStateError|Unhandled|Error:/, 'a clean stop');
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
  });
}
