// The `cutover` CLI as a real process: exit codes and messages for the cases that need no
// running deploy (those are covered end to end elsewhere).
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TASK_QUEUE } from '../../contract';
import { startDevServer, type DevServer } from '../../sandbox/devserver';
import { runCaptured, type CapturedRun } from '../../sandbox/procs';
import { WorkerProcess } from '../support/world';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'cutover');
const EXAMPLE = join(ROOT, 'cutover.example.yml');

type Run = CapturedRun;

function cutover(args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'CUTOVER_CONFIG', 'CUTOVER_UI_URL', 'GITLAB_CI', 'GITHUB_ACTIONS']) {
    if (!(k in extraEnv)) delete env[k];
  }
  return runCaptured(BIN, args, { cwd, env, timeoutMs: 30_000 });
}

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-cli-'));
  copyFileSync(EXAMPLE, join(dir, 'cutover.yml'));
  return dir;
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

// Build first (when a source changed), so no test sees the launcher's "compiling" line.
before(async () => {
  const build = await runCaptured('bash', [join(ROOT, 'scripts', 'build.sh')], { cwd: ROOT, env: process.env, timeoutMs: 300_000 });
  assert.equal(build.code, 0, build.stderr);
});

test('validate: a good file → 0 with a summary', async () => {
  const r = await cutover(['validate'], workdir());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'cutover.yml: OK (2 apps, 3 environments, 5 hosts)');
  // The example sets slots.installed for prod only: a note (not an error) for the others.
  assert.deepEqual(
    r.stderr.trim().split('\n').map((l) => l.replace(/ is not set: .*/, '')),
    ['note: apps.shop.environments.staging.slots.installed', 'note: apps.blog.environments.prod.slots.installed'],
  );
});

test('validate: a broken file → 2 naming the exact path', async () => {
  const dir = workdir();
  const text = readFileSync(join(dir, 'cutover.yml'), 'utf8').replace('port: 22 ', 'port: abc ');
  writeFileSync(join(dir, 'broken.yml'), text.replace('green: { port: 3006 }', 'green: { port: 3005 }'));
  const r = await cutover(['--config', 'broken.yml', 'validate'], dir);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    [
      'broken.yml: apps.shop.environments.prod.hosts[0].port: expected a number, got "abc"',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'ports.yml'), readFileSync(EXAMPLE, 'utf8').replace('green: { port: 3006 }', 'green: { port: 3005 }'));
  const ports = await cutover(['validate'], dir, { CUTOVER_CONFIG: 'ports.yml' });
  assert.equal(ports.code, 2);
  assert.match(
    ports.stderr,
    /^ports\.yml: apps\.shop\.environments\.prod\.slots\.green\.port: 3005 is already used by slots\.blue\.port; give each colour its own port$/m,
  );
});

test('validate: a missing file → 2', async () => {
  const r = await cutover(['validate', '-c', 'nope.yml'], workdir());
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), 'nope.yml: file not found (pass --config or create it; see README)');
});

test('deploy: a version with shell syntax or shaped like a path or an option → 2, and nothing runs', async () => {
  const dir = workdir();
  const marker = join(dir, 'pwned');
  const literalExisted = existsSync('/tmp/pwned');
  for (const version of [`v2;touch ${marker}`, 'v2;touch /tmp/pwned', '$(touch x)', '..', '.', '-rf', 'v1..2']) {
    const r = await cutover(['deploy', 'shop', 'prod', '--', version], dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^version: ".*" is not allowed: it must (not contain|start with a letter or digit).*\(a name is 1 to 128 letters, digits/m);
  }
  const json = await cutover(['--json', 'deploy', 'shop', 'prod', '..'], dir);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.stdout), {
    ok: false,
    exitCode: 2,
    category: 'bad-input',
    field: 'version',
    error: 'version: ".." is not allowed: it must start with a letter or digit, not "." (a name is 1 to 128 letters, digits, ".", "_" or "-", starts with a letter or digit and has no "..", like v1.2.3 or web-1)',
  });
  assert.equal(existsSync(marker), false);
  if (!literalExisted) assert.equal(existsSync('/tmp/pwned'), false);
  assert.equal(existsSync(join(dir, 'x')), false);
});

test('the bundled CLI starts through its V8 code caches; a cache V8 rejects is written again and the CLI still works', async () => {
  const caches = ['front.cjs.v8cache', 'validate.cjs.v8cache', 'commands.cjs.v8cache'];
  for (const f of caches) assert.ok(existsSync(join(ROOT, 'dist', 'cli', f)), `scripts/build.sh writes ${f}`);
  const dir = mkdtempSync(join(tmpdir(), 'cutover-cli-cache-'));
  for (const f of ['bin.mjs', 'front.cjs', 'validate.cjs', 'commands.cjs']) copyFileSync(join(ROOT, 'dist', 'cli', f), join(dir, f));
  for (const f of caches) writeFileSync(join(dir, f), 'not a V8 code cache');
  // validate loads the front and its own bundle (the config's modules; the example file is
  // valid); status against a closed port the front and the commands' bundle, then exits 3.
  const cfg = join(workdir(), 'cutover.yml');
  const port = await closedPort();
  const run = async () => {
    const validate = await runCaptured(process.execPath, [join(dir, 'bin.mjs'), '-c', cfg, 'validate'], { cwd: dir, env: process.env, timeoutMs: 30_000 });
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /OK \(2 apps, 3 environments, 5 hosts\)/);
    const status = await runCaptured(process.execPath, [join(dir, 'bin.mjs'), '-c', cfg, 'status', 'shop', 'prod', '--address', `127.0.0.1:${port}`], { cwd: dir, env: process.env, timeoutMs: 30_000 });
    assert.equal(status.code, 3, status.stderr);
  };
  await run();
  const written = caches.map((f) => readFileSync(join(dir, f)));
  for (const c of written) {
    assert.notEqual(c.toString('latin1'), 'not a V8 code cache', 'the rejected cache was replaced');
    assert.ok(c.length > 10_000, `a real cache (${c.length} bytes)`);
  }
  await run();
  assert.deepEqual(caches.map((f) => readFileSync(join(dir, f))), written, 'accepted caches are left as they are');
});

test('deploy: Temporal unreachable → 3 within a few seconds', async () => {
  const port = await closedPort();
  const r = await cutover(['deploy', 'shop', 'prod', '1.2.3', '--address', `127.0.0.1:${port}`], workdir());
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot reach Temporal at 127\\.0\\.0\\.1:${port}: connection refused; is the server running\\?`));
  assert.ok(r.ms < 10_000, `took ${r.ms} ms`);

  const json = await cutover(['--json', 'status', 'shop', 'prod'], workdir(), { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  assert.equal(json.code, 3);
  const report = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; error: string };
  assert.equal(report.ok, false);
  assert.equal(report.exitCode, 3);
  assert.match(report.error, /cannot reach Temporal/);
});

test('deploy: unknown app or environment → 2 listing the configured ones', async () => {
  const app = await cutover(['deploy', 'blog2', 'prod', '1.2.3'], workdir());
  assert.equal(app.code, 2);
  assert.equal(app.stderr.trim(), 'cutover.yml: apps: unknown app "blog2"; configured apps: shop, blog');
  const env = await cutover(['rollback', 'shop', 'qa'], workdir());
  assert.equal(env.code, 2);
  assert.match(env.stderr, /unknown environment "qa" for app "shop"; configured environments: prod, staging/);
});

test('usage errors → 2', async () => {
  const missing = await cutover(['deploy', 'shop'], workdir());
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing required argument/);
  const unknown = await cutover(['--frobnicate', 'validate'], workdir());
  assert.equal(unknown.code, 2);
  const help = await cutover(['--help'], workdir());
  assert.equal(help.code, 0);
  assert.match(help.stdout, /deploy \[options\] <app> <env> <version>/);
});

// ---- canary controls: promote | pause | resume | abort ----------------------------------------
// The accepted and refused paths need a running canary on real hosts; they are in the canary
// integration test. Here: nothing to control, and Temporal unreachable.

test('promote | pause | resume | abort: Temporal unreachable → 3 within a few seconds', async () => {
  const port = await closedPort();
  for (const args of [['promote', 'shop', 'prod', '--full'], ['pause', 'shop', 'prod'], ['resume', 'shop', 'prod'], ['abort', 'shop', 'prod', '--reason', 'p99']]) {
    const r = await cutover([...args, '--address', `127.0.0.1:${port}`], workdir());
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`cannot reach Temporal at 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.ok(r.ms < 10_000, `${args[0]} took ${r.ms} ms`);
  }
  const json = await cutover(['--json', 'promote', 'shop', 'prod'], workdir(), { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  assert.equal(json.code, 3);
  const report = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; category: string; error: string };
  assert.deepEqual([report.ok, report.exitCode, report.category], [false, 3, 'unreachable']);
  assert.match(report.error, /cannot reach Temporal/);
});

test('promote | pause | resume | abort: bad names and an empty --reason → 2, before any connection', async () => {
  const bad = await cutover(['promote', 'shop;rm', 'prod', '--address', '127.0.0.1:1'], workdir());
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^app: "shop;rm" is not allowed/m);
  const empty = await cutover(['abort', 'shop', 'prod', '--reason', ' ', '--address', '127.0.0.1:1'], workdir());
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /^--reason: the text is empty; give a reason or leave the option out$/m);
  const help = await cutover(['--help'], workdir());
  assert.match(help.stdout, /blue-green and canary deploys/);
  for (const c of ['promote [options] <app> <env>', 'pause <app> <env>', 'resume <app> <env>', 'abort [options] <app> <env>']) assert.ok(help.stdout.includes(c), c);
});

describe('canary controls and refusals against a dev server', () => {
  let dir: string;
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-cli-canary-'));
    server = await startDevServer({ dir });
    worker = new WorkerProcess(dir, { TEMPORAL_ADDRESS: server.address });
    await worker.start();
    connection = await Connection.connect({ address: server.address });
  });

  after(async () => {
    await worker?.stop();
    await connection?.close();
    await server?.stop();
  });

  const run = (args: string[]): Promise<Run> => cutover(['--address', server!.address, ...args], workdir(), { USER: 'carol' });

  test('an environment nobody deployed to → 2 naming it', async () => {
    const r = await run(['promote', 'shop', 'prod']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim(), 'nothing to promote: no canary is running in shop/prod (nothing is running)');
  });

  test('an environment with nothing running → 2 naming it, also under --json', async () => {
    const client = new Client({ connection: connection! });
    await client.workflow.start('environmentWorkflow', { workflowId: 'env/shop/staging', taskQueue: TASK_QUEUE, args: [{ app: 'shop', env: 'staging' }] });
    const status = await run(['status', 'shop', 'staging']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^running: {3}nothing$/m);
    for (const action of ['promote', 'pause', 'resume', 'abort']) {
      const r = await run([action, 'shop', 'staging']);
      assert.equal(r.code, 2, `${action}: ${r.stderr}`);
      assert.equal(r.stderr.trim(), `nothing to ${action}: no canary is running in shop/staging (nothing is running)`);
    }
    const json = await run(['--json', 'abort', 'shop', 'staging', '--reason', 'p99 too high']);
    assert.equal(json.code, 2);
    const report = JSON.parse(json.stdout) as { ok: boolean; exitCode: number; error: string; id: string };
    assert.deepEqual(report, {
      ok: false,
      exitCode: 2,
      category: 'bad-input',
      error: 'nothing to abort: no canary is running in shop/staging (nothing is running)',
      id: 'env/shop/staging',
      url: 'http://127.0.0.1:8233/namespaces/default/workflows/env%2Fshop%2Fstaging',
    });
  });

  test('rollback --wait with nothing to roll back → 4 (refused, nothing changed), also under --json', async () => {
    const r = await run(['--json', 'rollback', 'blog', 'prod', '--wait', '--key', 'nothing-yet']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /nothing to roll back in blog\/prod: nothing has been deployed yet/);
    const report = JSON.parse(r.stdout) as { ok: boolean; exitCode: number; category: string; failureType: string; id: string };
    assert.deepEqual([report.ok, report.exitCode, report.category, report.failureType, report.id], [false, 4, 'refused', 'NothingToRollBack', 'rollback/blog/prod/nothing-yet']);
  });

  // Last: it leaves a deploy running in blog/prod (the tests above expect nothing there).
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    test(`${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} on deploy --wait stops following at once (exit ${code}), says the deploy goes on, and leaves no process`, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, USER: 'carol' };
      for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'CUTOVER_CONFIG', 'CUTOVER_UI_URL', 'GITLAB_CI', 'GITHUB_ACTIONS']) delete env[k];
      // blog/prod's hosts do not exist: the deploy keeps retrying its reads while the CLI follows it.
      const cli = spawn(BIN, ['--address', server!.address, 'deploy', 'blog', 'prod', 'v9', '--wait', '--key', 'ctrl-c'], { cwd: workdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      cli.stdout.on('data', (b: Buffer) => (out += b.toString()));
      cli.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((done) => cli.once('exit', (code) => done(code)));
      try {
        const deadline = Date.now() + 60_000;
        while (!out.includes('/workflows/')) {
          assert.ok(cli.exitCode === null && Date.now() < deadline, `the CLI never printed the run's link:\n${out}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const sent = Date.now();
        cli.kill(signal);
        assert.equal(await exited, code, out);
        assert.ok(Date.now() - sent < 5_000, 'at once');
        assert.match(out, /stopped following; the operation itself goes on in Temporal/);
        const deploy = (await new Client({ connection: connection! }).workflow.getHandle('env/blog/prod').describe()).status.name;
        assert.equal(deploy, 'RUNNING', 'the environment (and its deploy) go on');
      } finally {
        if (cli.exitCode === null) cli.kill('SIGKILL');
      }
    });
  }
});
