// cutover installed as a tool: `npm pack` (its prepack builds dist/), the tarball installed into
// a clean project as a user would (`--prefer-offline`: the packages come from npm's cache, filled
// by `npm ci`; only their metadata may be asked of the npm registry, which a lockfile install
// never caches), then run from elsewhere as a CI job would. The installed CLI needs neither tsx nor TypeScript; the worker's dependencies
// resolve and the installed cutover-worker polls a dev server; the systemd units in docs/systemd
// pass systemd's own check.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { startDevServer } from '../../sandbox/devserver';
import { runCaptured, sleep, spawnDaemon, type CapturedRun } from '../../sandbox/procs';

const ROOT = join(__dirname, '..', '..');

/** Run a command with an environment that knows nothing of this checkout (no npm_* variables, PATH without its bins). */
const cleanEnv = (): NodeJS.ProcessEnv => ({ HOME: process.env.HOME, PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, LANG: 'C.UTF-8' });

function run(cmd: string, args: string[], cwd: string): Promise<CapturedRun> {
  return runCaptured(cmd, args, { cwd, env: cleanEnv(), timeoutMs: 180_000 });
}

test('npm pack gives a package whose cutover runs from a clean directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-pack-'));

  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  for (const f of ['dist/cli/bin.mjs', 'bin/cutover-worker.js', 'dist/workers/main.js', 'dist/workflows/index.js', 'cutover.example.yml', 'README.md', 'docs/systemd/cutover-worker.service', 'docs/systemd/cutover-slack-gateway.service']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  const stray = files.filter((f) => /\.ts$/.test(f) || /^(test|bench|sandbox|starters|scripts)\//.test(f) || /tsbuildinfo|\.built$|\.lock$/.test(f));
  assert.deepEqual(stray, [], 'no sources, tests or build state in the package');

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cutover-install-check', private: true }));
  const installed = await run('npm', ['install', '--prefer-offline', '--omit=dev', '--no-audit', '--no-fund', join(dir, info!.filename)], app);
  assert.equal(installed.code, 0, installed.stderr);
  for (const dev of ['tsx', 'typescript', 'esbuild', 'fast-check']) assert.equal(existsSync(join(app, 'node_modules', dev)), false, `${dev} is not installed`);

  // From a directory that is neither the checkout nor the install, as a CI job runs it.
  const elsewhere = join(dir, 'ci-job');
  mkdirSync(elsewhere);
  const bin = join(app, 'node_modules', '.bin', 'cutover');
  const help = await run(bin, ['--help'], elsewhere);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: cutover/m);
  assert.match(help.stdout, /deploy \[options\] <app> <env> <version>/);

  const npx = await run('npx', ['--offline', '--no-install', 'cutover', '--help'], app);
  assert.equal(npx.code, 0, npx.stderr);
  assert.match(npx.stdout, /^Usage: cutover/m);

  copyFileSync(join(ROOT, 'cutover.example.yml'), join(elsewhere, 'deploy.yml'));
  const valid = await run(bin, ['validate', '-c', 'deploy.yml'], elsewhere);
  assert.equal(valid.code, 0, valid.stderr);
  assert.equal(valid.stdout.trim(), 'deploy.yml: OK (2 apps, 3 environments, 5 hosts)');
  writeFileSync(join(elsewhere, 'broken.yml'), readFileSync(join(ROOT, 'cutover.example.yml'), 'utf8').replace('port: 3005', 'port: abc'));
  const broken = await run(bin, ['--json', 'validate', '-c', 'broken.yml'], elsewhere);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /^broken\.yml: apps\.shop\.environments\.prod\.slots\.blue\.port: expected a number, got "abc"$/m);
  assert.equal((JSON.parse(broken.stdout) as { category: string }).category, 'bad-input');

  // The worker's runtime dependencies (Temporal's native core, ssh2, Slack) resolve in the install.
  const deps = await run(process.execPath, ['-e', "require('cutover/dist/workers/worker.js'); require('@temporalio/core-bridge'); console.log('ok')"], app);
  assert.equal(deps.code, 0, deps.stderr);
  assert.equal(deps.stdout.trim(), 'ok');
  assert.ok(existsSync(join(app, 'node_modules', '.bin', 'cutover-worker')), 'cutover-worker is linked');

  // The units, pointed at this install's binaries, pass `systemd-analyze verify`.
  for (const unit of ['cutover-worker.service', 'cutover-slack-gateway.service']) {
    const text = readFileSync(join(app, 'node_modules', 'cutover', 'docs', 'systemd', unit), 'utf8');
    assert.match(text, /^ExecStart=\/usr\/local\/bin\/cutover/m);
    const local = join(dir, unit);
    writeFileSync(local, text.replaceAll('/usr/local/bin/', `${join(app, 'node_modules', '.bin')}/`));
    const verified = await run('systemd-analyze', ['verify', '--man=no', local], dir);
    assert.equal(verified.code, 0, `${unit}: ${verified.stderr}${verified.stdout}`);
  }

  // What the worker unit runs: the installed cutover-worker bundles the workflows from dist/ and
  // polls; SIGTERM (systemctl stop) ends it cleanly.
  const server = await startDevServer({ dir: join(dir, 'temporal') });
  const log = join(dir, 'worker.log');
  const worker = spawnDaemon(join(app, 'node_modules', '.bin', 'cutover-worker'), [], log, { ...cleanEnv(), TEMPORAL_ADDRESS: server.address });
  try {
    const exitCode = new Promise<number | null>((done) => worker.child.once('exit', (code) => done(code)));
    const deadline = Date.now() + 120_000;
    while (!readFileSync(log, 'utf8').includes(`cutover worker polling task queue cutover on ${server.address}`)) {
      assert.ok(worker.isRunning() && Date.now() < deadline, `the installed worker never polled:\n${readFileSync(log, 'utf8').slice(-2000)}`);
      await sleep(200);
    }
    worker.child.kill('SIGTERM');
    assert.equal(await exitCode, 0, readFileSync(log, 'utf8').slice(-2000));
  } finally {
    await worker.stop();
    await server.stop();
  }
});
