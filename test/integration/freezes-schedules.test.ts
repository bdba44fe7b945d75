// Freeze windows, scheduled and recurring deploys end to end, with the real CLI, the Temporal
// dev server (the time-skipping server has no Schedules), two real hosts and the Slack
// stand-in: a deploy refused in a freeze, a break-glass approved from the CLI, a one-off
// scheduled deploy cancelled, and a recurring schedule that deploys the release a command on
// the first host names, then finds it live and does nothing.
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DateTime } from 'luxon';
import type { ScheduledDeployResult } from '../../contract';
import { recordHistory } from '../support/histories';
import { assertNoFailedRequests, eventually, startWorld, type World } from '../support/world';

let w: World;

before(async () => {
  w = await startWorld('freeze', { v1: undefined, v2: undefined, v3: undefined });
});

after(async () => {
  try {
    recordHistory(w.server.address, 'env/shop/prod', 'environment-gates');
  } finally {
    await w?.stop();
  }
});

const utc = (ms: number): string => DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat('yyyy-MM-dd HH:mm');
const HOUR = 3_600_000;

/** A config whose environment is frozen now by a one-off window `incident`. */
function frozenConfig(name: string, extra: Record<string, unknown> = {}): string {
  const now = Date.now();
  return w.config(name, {
    edit: (env) => Object.assign(env, { freezes: [{ name: 'incident', from: utc(now - HOUR), to: utc(now + 2 * HOUR), timezone: 'UTC' }], ...extra }),
  });
}

const routedBefore = (): (string | undefined)[] => w.routed();

describe('freeze windows from the CLI', () => {
  test('freeze list shows the window in force; a deploy in it is refused with exit 4 and nothing changes', async () => {
    const file = frozenConfig('frozen');
    const list = await w.cutover(['-c', file, 'freeze', 'list', '--app', 'shop'], 'f1', 30_000, { TZ: 'America/New_York' });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /shop\/prod .*onFreeze: reject/);
    assert.match(list.stdout, /now: +FROZEN by incident until .* UTC +\(your time: .* America\/New_York\)/);
    const routed = routedBefore();
    const run = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v2', '--wait'], 'f2');
    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.match(run.stderr, /frozen by incident until .* UTC; nothing was changed/);
    assert.deepEqual(w.routed(), routed, 'no router touched');
  });

  test('break-glass: the trigger cannot approve, a listed approver can, and the deploy goes through the freeze', async () => {
    const file = frozenConfig('breakglass', { breakGlass: { approvers: ['alice', 'bob'] } });
    const load = w.startLoad();
    const deploying = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v2', '--wait', '--break-glass', 'checkout is down'], 'f3');
    await eventually('the deploy waits for an approval', async () => (await w.envState())?.running?.gate?.phase === 'awaiting-approval');
    const self = await w.cutover(['-c', file, 'approve', 'shop', 'prod'], 'f4');
    assert.equal(self.code, 2, self.stdout + self.stderr);
    assert.match(self.stderr, /alice triggered this deploy and cannot approve it/);
    const bob = await w.cutover(['-c', file, 'approve', 'shop', 'prod', '--comment', 'looked at the diff'], 'f5', 30_000, { GITLAB_USER_LOGIN: 'bob' });
    assert.equal(bob.code, 0, bob.stdout + bob.stderr);
    assert.match(bob.stdout, /approved by bob/);
    const run = await deploying;
    assertNoFailedRequests(await load.stop());
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /awaiting-approval: break-glass through a freeze/);
    assert.deepEqual(w.routed(), ['green:v2', 'green:v2']);
    assert.ok(w.slack.messages().some((m) => m.text.includes('break-glass through incident: approved by bob; reason: checkout is down')));
    recordHistory(w.server.address, 'deploy/shop/prod/gitlab-f3-v2', 'bluegreen-break-glass');
  });
});

describe('approvals from the CLI', () => {
  test('a deploy waits for 2 of 3 approvers before the switch; the waiting CLI says for whom; traffic moves after the second with no failed request', async () => {
    const file = w.config('approval', { edit: (env) => Object.assign(env, { approval: { required: 2, approvers: ['alice', 'bob', 'carol'], before: 'switch', timeout: '1h' } }) });
    const before = w.routed();
    const load = w.startLoad();
    const deploying = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v1', '--wait'], 'a1');
    await eventually('the deploy waits for approvals', async () => (await w.envState())?.running?.gate?.phase === 'awaiting-approval', 60_000);
    assert.deepEqual(w.routed(), before, 'no traffic moved while waiting');
    const stranger = await w.cutover(['-c', file, 'approve', 'shop', 'prod'], 'a2', 30_000, { GITLAB_USER_LOGIN: 'mallory' });
    assert.equal(stranger.code, 2);
    assert.match(stranger.stderr, /mallory is not an approver of shop\/prod/);
    const bob = await w.cutover(['-c', file, 'approve', 'shop', 'prod'], 'a3', 30_000, { GITLAB_USER_LOGIN: 'bob' });
    assert.equal(bob.code, 0, bob.stderr);
    assert.match(bob.stdout, /waiting for 1 more approval from carol/);
    const carol = await w.cutover(['-c', file, 'approve', 'shop', 'prod', '--comment', 'ship it'], 'a4', 30_000, { GITLAB_USER_LOGIN: 'carol' });
    assert.equal(carol.code, 0, carol.stderr);
    const run = await deploying;
    assertNoFailedRequests(await load.stop());
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /awaiting-approval: deploy of v1 before traffic moves to \w+: waiting for 2 more approvals from bob, carol/);
    assert.match(run.stdout, /approved: .*approved by bob, carol/);
    assert.deepEqual(w.served(), ['200 v1', '200 v1']);
    const id = (await w.envState())?.live?.deployId ?? '';
    recordHistory(w.server.address, id, 'bluegreen-approved');
  });

  test('a rejection from the CLI ends the waiting deploy with exit 1 and who rejected why; nothing serves differently', async () => {
    const file = w.config('approval', { edit: (env) => Object.assign(env, { approval: { required: 1, approvers: ['bob'], before: 'switch', timeout: '1h' } }) });
    const before = w.served();
    const deploying = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v2', '--wait'], 'a5');
    await eventually('the deploy waits for approvals', async () => (await w.envState())?.running?.gate?.phase === 'awaiting-approval', 60_000);
    const noComment = await w.cutover(['-c', file, 'reject', 'shop', 'prod'], 'a6', 30_000, { GITLAB_USER_LOGIN: 'bob' });
    assert.equal(noComment.code, 2);
    const reject = await w.cutover(['-c', file, 'reject', 'shop', 'prod', '--comment', 'not during the sale'], 'a7', 30_000, { GITLAB_USER_LOGIN: 'bob' });
    assert.equal(reject.code, 0, reject.stderr);
    const run = await deploying;
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /rejected by bob: not during the sale/);
    assert.deepEqual(w.served(), before);
  });
});

describe('scheduled deploys from the CLI', () => {
  test('deploy --at returns at once with the id; status lists it; cancel drops it (and refuses twice)', async () => {
    const file = w.config('plain');
    const at = DateTime.now().setZone('Europe/Berlin').plus({ hours: 3 }).toFormat('yyyy-MM-dd HH:mm');
    const run = await w.cutover(['-c', file, '--json', 'deploy', 'shop', 'prod', 'v3', '--at', `${at} Europe/Berlin`], 's1');
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { id: string; scheduledFor: { text: string } };
    assert.match(report.scheduledFor.text, /Europe\/Berlin$/);
    await eventually('scheduled in the environment', async () => (await w.envState())?.scheduled.some((s) => s.id === report.id) === true);
    const status = await w.cutover(['-c', file, 'status', 'shop', 'prod'], 's2');
    assert.match(status.stdout, /scheduled: .*Europe\/Berlin \(in [23]h.*deploy .*v3/);
    const cancel = await w.cutover(['-c', file, 'cancel', 'shop', 'prod', report.id], 's3');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /cancelled .* \(it was scheduled\) by alice; nothing was changed/);
    const again = await w.cutover(['-c', file, 'cancel', 'shop', 'prod', report.id], 's4');
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already cancelled/);
    const past = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v3', '--at', '2020-01-01 10:00 UTC'], 's5');
    assert.equal(past.code, 2);
    assert.match(past.stderr, /--at: .* is in the past/);
  });

  test('a recurring schedule deploys the release a command on the first host names, then finds it live and does nothing', async () => {
    const file = w.config('plain');
    const latest = join(w.hosts[0]!.root, 'releases', 'latest');
    symlinkSync(join(w.hosts[0]!.root, 'releases', 'v3'), latest);
    const create = await w.cutover(['-c', file, 'schedule', 'create', 'nightly', '--app', 'shop', '--env', 'prod', '--cron', '0 3 * * 1-5', '--timezone', 'Europe/Berlin', '--version-from', `command:readlink ${latest}`], 'r1');
    assert.equal(create.code, 0, create.stdout + create.stderr);
    assert.match(create.stdout, /next: .* 03:00 Europe\/Berlin/);
    const dup = await w.cutover(['-c', file, 'schedule', 'create', 'nightly', '--app', 'shop', '--env', 'prod', '--cron', '0 3 * * *', '--version-from', 'https://example.invalid/v'], 'r2');
    assert.equal(dup.code, 2);
    const badCron = await w.cutover(['-c', file, 'schedule', 'create', 'other', '--app', 'shop', '--env', 'prod', '--cron', '0 25 * * *', '--version-from', 'command:true'], 'r3');
    assert.equal(badCron.code, 2);
    assert.match(badCron.stderr, /--cron: .* is not a cron expression/);
    await eventually('listed', async () => /nightly +shop\/prod +"0 3 \* \* 1-5" Europe\/Berlin +next /.test((await w.cutover(['-c', file, 'schedule', 'list'], 'r4')).stdout));

    const load = w.startLoad();
    const trigger = await w.cutover(['-c', file, 'schedule', 'trigger', 'nightly'], 'r5');
    assert.equal(trigger.code, 0, trigger.stderr);
    const first = await scheduledRun(1);
    assert.equal(first.result.outcome, 'requested');
    assert.equal(first.result.version, 'v3');
    await eventually('v3 live through the schedule', async () => (await w.envState())?.live?.version === 'v3', 90_000);
    assertNoFailedRequests(await load.stop());
    assert.deepEqual(w.served(), ['200 v3', '200 v3']);
    assert.equal((await w.envState())?.recent.find((r) => r.version === 'v3')?.by, 'schedule:nightly');
    recordHistory(w.server.address, first.workflowId, 'scheduled-deploy-requested');

    await w.cutover(['-c', file, 'schedule', 'trigger', 'nightly'], 'r6');
    const second = await scheduledRun(2);
    assert.deepEqual({ outcome: second.result.outcome, version: second.result.version }, { outcome: 'no-op', version: 'v3' });

    assert.equal((await w.cutover(['-c', file, 'schedule', 'pause', 'nightly'], 'r7')).code, 0);
    await eventually('paused', async () => /nightly .*PAUSED/.test((await w.cutover(['-c', file, 'schedule', 'list'], 'r8')).stdout));
    assert.equal((await w.cutover(['-c', file, 'schedule', 'unpause', 'nightly'], 'r9')).code, 0);
    assert.equal((await w.cutover(['-c', file, 'schedule', 'delete', 'nightly'], 'r10')).code, 0);
    const gone = await w.cutover(['-c', file, 'schedule', 'pause', 'nightly'], 'r11');
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no schedule named nightly/);
  });
});

/** The n-th run the schedule started (1-based), once it has finished. */
async function scheduledRun(n: number): Promise<{ workflowId: string; result: ScheduledDeployResult }> {
  let workflowId = '';
  await eventually(`run ${n} of the schedule`, async () => {
    const d = await w.client.schedule.getHandle('cutover-schedule/nightly').describe();
    workflowId = d.info.recentActions[n - 1]?.action.workflow.workflowId ?? '';
    return workflowId !== '';
  });
  return { workflowId, result: (await w.client.workflow.getHandle(workflowId).result()) as ScheduledDeployResult };
}
