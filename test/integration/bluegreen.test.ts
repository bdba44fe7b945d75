// End to end against real servers on loopback: the Temporal dev server, two hosts (each a real
// sshd + nginx + the sample app in two slots), a Slack Web API stand-in, a cutover worker, and
// the `cutover` CLI run as a CI job would. Load runs through both routers during every change.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderUpstream } from '../../activities/nginx/commands';
import type { SandboxConfigOptions } from '../../sandbox/config';
import type { LoadStats } from '../../sandbox/load';
import { recordHistory } from '../support/histories';
import { eventually, startWorld, type CliRun, type World } from '../support/world';

let w: World;

before(async () => {
  w = await startWorld('e2e', { v1: undefined, v2: undefined, v3: undefined, broken: { healthStatus: 500 }, slow: { startDelayMs: 3000 } });
});

after(async () => {
  try {
    recordHistory(w.server.address, 'env/shop/prod', 'environment');
  } finally {
    await w?.stop();
  }
});

const config = (name: string, opts: Partial<SandboxConfigOptions> = {}): string => w.config(name, opts);

/** Run the CLI as a GitLab job would, with pipeline id `pipeline`. */
const cutover = (args: string[], pipeline = String(Math.floor(Math.random() * 1e9))): Promise<CliRun> => w.cutover(args, pipeline);

/** Run `fn` under a steady load through both routers; returns what the load saw. */
async function underLoad<T>(fn: () => Promise<T>): Promise<{ result: T; load: LoadStats }> {
  const load = w.startLoad();
  await new Promise((r) => setTimeout(r, 300));
  const result = await fn();
  await new Promise((r) => setTimeout(r, 300));
  return { result, load: await load.stop() };
}

const served = (): string[] => w.served();
const routed = (): (string | undefined)[] => w.routed();
/** The app process of that colour on each host, or null. */
const pids = (color: 'blue' | 'green'): (number | null)[] => w.appProcesses(color).map((ps) => ps[0]?.pid ?? null);

describe('blue-green deploy on real hosts', () => {
  test('cutover deploy --wait: v2 takes all traffic with zero failed requests, v1 stays up', async () => {
    const { result: run, load } = await underLoad(() => cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', 'v2', '--wait'], '1001'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout + run.stderr, /namespaces\/default\/workflows\/deploy%2Fshop%2Fprod%2Fgitlab-1001-v2/, 'prints the UI link');
    assert.match(run.stdout + run.stderr, /switching: switching nginx on web1 to green/, 'progress lines');
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assert.ok(load.sent > 100 && (load.versions.v2 ?? 0) > 0 && (load.versions.v1 ?? 0) > 0, JSON.stringify(load.versions));
    assert.deepEqual(routed(), ['green:v2', 'green:v2']);
    assert.deepEqual(served(), ['200 v2', '200 v2']);
    assert.ok(pids('blue').every((p) => p !== null), 'blue kept alive for rollback');

    const [parent, ...rest] = w.slack.messages();
    assert.ok(parent && !parent.threadTs, 'a parent message opens the thread');
    assert.ok(rest.every((m) => m.threadTs === parent.ts), 'every other message is in that one thread');
    assert.deepEqual(rest.map((m) => m.text.split(' ')[0]), ['Deploy', 'Traffic', ':white_check_mark:']);
    assert.match(parent.updates.at(-1) ?? '', /shop\/prod: v2 live on green/, 'headline updated');

    await eventually('the run is visible by search attribute', async () => {
      for await (const wf of w.client.workflow.list({ query: `CutoverApp='shop' AND CutoverVersion='v2' AND CutoverPhase='live'` })) {
        return wf.workflowId === 'deploy/shop/prod/gitlab-1001-v2';
      }
      return false;
    });
    recordHistory(w.server.address, 'deploy/shop/prod/gitlab-1001-v2', 'bluegreen-deploy-succeeded');
  });

  test('a retried CI job reaches the same run instead of deploying twice', async () => {
    const before = pids('green');
    const run = await cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', 'v2', '--wait'], '1001');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(pids('green'), before, 'green was not restarted');
    const state = JSON.parse((await cutover(['-c', config('slow'), '--json', 'status', 'shop', 'prod'])).stdout) as { recent: { id: string }[] };
    assert.equal(state.recent.filter((r) => r.id === 'deploy/shop/prod/gitlab-1001-v2').length, 1);
  });

  test('rollback inside the window: every host back on v1 at once, v2 stopped, no failed request', async () => {
    const { result: run, load } = await underLoad(() => cutover(['-c', config('slow'), 'rollback', 'shop', 'prod', '--wait'], '1002'));
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assert.deepEqual(routed(), ['blue:v1', 'blue:v1']);
    assert.deepEqual(served(), ['200 v1', '200 v1']);
    assert.match(run.stdout, /verified through every router; the rolled-back colour is being stopped/);
    // --wait answers once traffic is back and verified; the rolled-back colour is stopped after.
    await w.client.workflow.getHandle('rollback/shop/prod/gitlab-1002').result();
    assert.deepEqual(pids('green'), [null, null], 'the rolled-back colour is stopped');
    assert.ok(w.slack.messages().some((m) => m.text.includes('rolled back: v1 live on blue')));
    recordHistory(w.server.address, 'rollback/shop/prod/gitlab-1002', 'rollback-succeeded');
  });

  test('after the (shortened) teardown delay the old colour is stopped, the new one is not', async () => {
    const v1 = pids('blue');
    const run = await cutover(['-c', config('fast', { teardownDelay: '2s' }), 'deploy', 'shop', 'prod', 'v3', '--wait'], '1003');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.deepEqual(routed(), ['green:v3', 'green:v3']);
    await eventually('blue (v1) stopped on every host', () => pids('blue').every((p) => p === null));
    assert.ok(v1.every((p) => p !== null));
    assert.ok(pids('green').every((p) => p !== null), 'green (v3) keeps running');
    assert.deepEqual(served(), ['200 v3', '200 v3']);
  });

  test('a version that fails its health check: exit 1, new slot stopped, live colour untouched', async () => {
    const { result: run, load } = await underLoad(() => cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', 'broken', '--wait'], '1004'));
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(run.stderr + run.stdout, /failed its health check.*HTTP 500/);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assert.deepEqual(routed(), ['green:v3', 'green:v3']);
    assert.deepEqual(pids('blue'), [null, null], 'the broken slot was stopped');
    assert.ok(w.slack.messages().some((m) => m.text.includes('deploy failed - rolled back')));
    recordHistory(w.server.address, 'deploy/shop/prod/gitlab-1004-broken', 'bluegreen-health-failed');
  });

  test('an unknown host key is refused before any command runs: exit 4, nothing changed', async () => {
    const other = join(w.dir, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKey = readFileSync(`${other}.pub`, 'utf8').trim();
    const before = { routed: routed(), blue: pids('blue'), green: pids('green') };
    const file = config('wrong-key', { edit: (env) => void (env.hosts![0]!.hostKey = wrongKey) });
    const run = await cutover(['-c', file, '--json', 'deploy', 'shop', 'prod', 'v2', '--wait'], '1006');
    assert.equal(run.code, 4, run.stderr + run.stdout);
    assert.match(run.stderr, /host key/i);
    const report = JSON.parse(run.stdout) as { ok: boolean; exitCode: number; category: string; failureType: string; error: string };
    assert.deepEqual([report.ok, report.exitCode, report.category, report.failureType], [false, 4, 'refused', 'HostKeyRejected']);
    assert.match(report.error, /web1 .*host key mismatch/);
    assert.deepEqual({ routed: routed(), blue: pids('blue'), green: pids('green') }, before, 'nothing changed on any host');
    assert.match(w.slack.messages().at(-1)?.text ?? '', /^:no_entry: shop\/prod: deploy of v2 by alice refused: web1 .*host key mismatch.*; nothing was changed$/);
  });

  test('hosts that disagree on the live colour are refused: exit 4, nothing changed', async () => {
    const web2 = w.hosts[1]!;
    const upstream = web2.readUpstream();
    const live = /color=(blue|green) version=(\S+)/.exec(upstream);
    assert.ok(live, upstream);
    const other = live[1] === 'green' ? 'blue' : 'green';
    // web2's router file says the other colour (as a half-done manual switch would leave it); nginx is not reloaded.
    const upstreamName = /upstream (\S+) \{/.exec(upstream)?.[1] ?? 'shop_prod';
    writeFileSync(web2.upstreamFile, renderUpstream({ upstreamName, address: web2.address, color: other, version: 'v1', port: web2.ports[other] }));
    try {
      const before = { blue: pids('blue'), green: pids('green'), served: served() };
      const run = await cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', 'v2', '--wait'], '1009');
      assert.equal(run.code, 4, run.stderr + run.stdout);
      assert.match(run.stderr, new RegExp(`hosts disagree on the live colour: web1 serves ${live[1]} \\(${live[2]}\\), web2 serves ${other} \\(v1\\)`));
      assert.deepEqual({ blue: pids('blue'), green: pids('green'), served: served() }, before, 'nothing changed on any host');
      assert.match(w.slack.messages().at(-1)?.text ?? '', /^:no_entry: shop\/prod: deploy of v2 by alice refused: hosts disagree .*; nothing was changed$/);
    } finally {
      writeFileSync(web2.upstreamFile, upstream);
    }
  });

  test('two deploys at once: the second waits its turn (and says so), then deploys inside the first one\'s window', async () => {
    const file = config('slow');
    const { result, load } = await underLoad(async () => {
      // `slow` takes 3 s to answer its health check, so the first deploy is still running.
      const first = cutover(['-c', file, 'deploy', 'shop', 'prod', 'slow', '--wait'], '1007');
      const deadline = Date.now() + 30_000;
      while ((await w.envState())?.running?.id !== 'deploy/shop/prod/gitlab-1007-slow' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const second = cutover(['-c', file, 'deploy', 'shop', 'prod', 'v1', '--wait'], '1008');
      return Promise.all([first, second]);
    });
    const [a, b] = result;
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr + b.stdout, /waiting its turn: 1 operation\(s\) ahead \(running: deploy\/shop\/prod\/gitlab-1007-slow\)/);
    assert.equal(load.failed, 0, load.failures.join('\n'));
    assert.deepEqual(routed(), ['green:v1', 'green:v1'], 'the second deploy went into the colour the first one kept for rollback');
    assert.deepEqual(served(), ['200 v1', '200 v1']);
    assert.ok(pids('blue').every((p) => p !== null), 'slow (blue) is now the colour kept for rollback');
  });

  test('a version installed on web1 but not on web2 is refused with exit 2 and nothing changes on any host', async () => {
    cpSync(join(w.hosts[0]!.root, 'releases', 'v2'), join(w.hosts[0]!.root, 'releases', 'v9'), { recursive: true });
    const before = { routed: routed(), served: served(), blue: pids('blue'), green: pids('green') };
    const slackBefore = w.slack.messages().length;
    const run = await cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', 'v9', '--wait'], '1010');
    assert.equal(run.code, 2, run.stderr + run.stdout);
    assert.match(run.stderr, /version v9 is not installed on web2 \(slots.installed: exit 3: version v9 is not installed on this host/);
    assert.doesNotMatch(run.stderr, /on web1/);
    assert.deepEqual({ routed: routed(), served: served(), blue: pids('blue'), green: pids('green') }, before, 'nothing changed on any host');
    const announced = w.slack.messages().slice(slackBefore).map((m) => m.text);
    assert.equal(announced.length, 1, announced.join('\n'));
    assert.match(announced[0]!, /^:no_entry: shop\/prod: deploy of v9 by alice refused: version v9 is not installed on web2 .*; nothing was changed/);
  });

  test('a version that could reach a shell is refused with exit 2 and nothing runs', async () => {
    const marker = join(w.dir, 'pwned');
    const run = await cutover(['-c', config('slow'), 'deploy', 'shop', 'prod', `v2;touch ${marker}`, '--wait']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /version/);
    assert.equal(existsSync(marker), false);
  });
});
