// Approvals from Slack buttons and the audit log, end to end: a deploy waiting for 2 of 3
// approvers posts Approve / Reject buttons; `cutover slack-gateway` (the real CLI process)
// receives Slack's interactive payloads signed with the app's signing secret. A forged or stale
// signature gets 401 and changes nothing, an unmapped Slack user changes nothing, a replayed valid
// click does not approve twice, and a Slack approval plus a CLI approval let the deploy through
// with no failed request. The worker writes every step to a real PostgreSQL, and `cutover audit`
// shows them with the right actors; PostgreSQL stopped mid-deploy and restarted loses no event and
// duplicates none; the daily purge Schedule deletes what is older than the retention.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import type { AuditEvent } from '../../contract/audit';
import { startPostgres, type SandboxPostgres } from '../../sandbox/postgres';
import { freePort } from '../../sandbox/procs';
import { recordHistory } from '../support/histories';
import { assertNoFailedRequests, eventually, startWorld, type World } from '../support/world';
import { buttonClickBody, slackSigned } from '../support/slack-click';

const SECRET = 'test-signing-secret';
const CLI = join(__dirname, '..', '..', 'bin', 'cutover');
let w: World;
let gateway: ChildProcess | undefined;
let gatewayLog = '';
let pg: SandboxPostgres;

before(async () => {
  w = await startWorld(
    'slack',
    { v1: undefined, v2: undefined, v3: undefined },
    {
      worker: async (_server, dir) => {
        pg = await startPostgres({ dir: join(dir, 'postgres') });
        return { env: { DATABASE_URL: pg.url() }, stop: () => pg.stop() };
      },
    },
  );
});

/** The config `name` with the audit log on (`cutover audit` reads audit.databaseUrl) and `extra` top-level keys. */
function auditedConfig(name: string, edit?: (env: Record<string, unknown>) => void, extra: Record<string, unknown> = {}): string {
  const file = w.config(name, edit ? { edit: (env) => edit(env as Record<string, unknown>) } : {});
  const config = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, YAML.stringify({ ...config, audit: { databaseUrl: pg.url() }, ...extra }));
  return file;
}

type Exported = Omit<AuditEvent, 'at' | 'operationId'> & { at: string; operation_id: string };

async function exported(file: string, ...filters: string[]): Promise<Exported[]> {
  const r = await w.cutover(['-c', file, 'audit', '--format', 'json', ...filters], 'audit');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Exported[];
}

after(async () => {
  gateway?.kill('SIGKILL');
  await w?.stop();
});

function signed(body: string, at?: number, secret = SECRET): Record<string, string> {
  return slackSigned(body, secret, at);
}

/** A click on a button of the message `ts` in `channel`, by Slack user `user`. */
function click(user: string, action: 'cutover_approve' | 'cutover_reject', deployId: string, channel: string, ts: string): string {
  return buttonClickBody({ user, actionId: action, blockId: 'cutover_approval', value: deployId, label: 'Approve', channel, channelName: 'deploys', ts, text: 'waiting for approvals' });
}

test('Approve in Slack through the signed gateway, forged, stale, unmapped and replayed clicks refused; the audit log has every step with its actor', async () => {
  const file = auditedConfig('slack', (env) => Object.assign(env, { approval: { required: 2, approvers: ['alice', 'bob', 'carol'], before: 'switch', timeout: '1h' } }), {
    slackUsers: { bob: 'U0BOB', carol: 'U0CAROL' },
  });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/slack/events`;
  gateway = spawn(CLI, ['-c', file, 'slack-gateway'], {
    env: { ...process.env, SLACK_SIGNING_SECRET: SECRET, CUTOVER_GATEWAY_PORT: String(port), SLACK_BOT_TOKEN: w.slack.token, SLACK_API_URL: w.slack.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout!.on('data', (d: Buffer) => (gatewayLog += d.toString()));
  gateway.stderr!.on('data', (d: Buffer) => (gatewayLog += d.toString()));
  await eventually('the gateway listens', () => gatewayLog.includes('listening'), 30_000);

  const load = w.startLoad();
  const deploying = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v2', '--wait'], 'slack1');
  await eventually('the deploy waits for approvals', async () => (await w.envState())?.running?.gate?.phase === 'awaiting-approval', 60_000);
  const deployId = (await w.envState())!.running!.id;
  // The environment hears of the wait just before the Slack post: give the post a moment.
  await eventually('the waiting deploy posted Approve / Reject buttons', () => w.slack.calls().some((c) => c.method === 'chat.postMessage' && JSON.stringify(c.body).includes('cutover_approve')), 30_000);
  const message = w.slack.messages().find((m) => m.text.includes(':raising_hand:'));
  assert.ok(message, 'the approval request is in the thread');
  const waiting = async (): Promise<string> => (await w.envState())?.running?.gate?.message ?? '';

  const bobClick = click('U0BOB', 'cutover_approve', deployId, message.channel, message.ts);
  const forged = await fetch(url, { method: 'POST', body: bobClick, headers: signed(bobClick, undefined, 'not-the-secret') });
  assert.equal(forged.status, 401, 'a forged signature is refused');
  const stale = await fetch(url, { method: 'POST', body: bobClick, headers: signed(bobClick, Math.floor(Date.now() / 1000) - 6 * 60) });
  assert.equal(stale.status, 401, 'a request older than 5 minutes is refused');
  const eve = click('U0EVE', 'cutover_approve', deployId, message.channel, message.ts);
  assert.equal((await fetch(url, { method: 'POST', body: eve, headers: signed(eve) })).status, 200);
  assert.match(await waiting(), /waiting for 2 more approvals from bob, carol/, 'nothing changed by forged, stale or unmapped clicks');

  const headers = signed(bobClick);
  assert.equal((await fetch(url, { method: 'POST', body: bobClick, headers })).status, 200);
  await eventually('bob counted', async () => /waiting for 1 more approval from carol/.test(await waiting()));
  assert.equal((await fetch(url, { method: 'POST', body: bobClick, headers })).status, 200, 'a replay is a valid request');
  assert.match(await waiting(), /waiting for 1 more approval from carol/, 'but does not approve twice');
  assert.match(gatewayLog, /slack approve of .* by bob: refused: bob has already approved this deploy/);
  assert.ok(w.slack.messages().find((m) => m.ts === message.ts)?.updates.some((u) => u.includes('bob approved')), 'the message is updated in place');

  const carol = await w.cutover(['-c', file, 'approve', 'shop', 'prod'], 'slack2', 30_000, { GITLAB_USER_LOGIN: 'carol' });
  assert.equal(carol.code, 0, carol.stderr);
  const run = await deploying;
  assertNoFailedRequests(await load.stop());
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.deepEqual(w.served(), ['200 v2', '200 v2']);

  const stopped = new Promise<number | null>((resolve) => gateway!.once('exit', (code) => resolve(code)));
  gateway.kill('SIGTERM');
  assert.equal(await stopped, 0, gatewayLog);
  gateway = undefined;

  // The audit log, as `cutover audit` exports it from PostgreSQL.
  const events = await exported(file, '--deploy', deployId);
  const seq = events.map((e) => (e.action === 'step' ? `step:${String(e.detail.phase)}` : e.action));
  for (const expected of ['requested', 'started', 'awaiting-approval', 'approved', 'switched', 'step:verifying', 'succeeded']) assert.ok(seq.includes(expected), `${expected} in ${seq.join(', ')}`);
  assert.ok(seq.indexOf('requested') < seq.indexOf('approved') && seq.indexOf('approved') < seq.indexOf('switched') && seq.indexOf('switched') < seq.indexOf('succeeded'), seq.join(', '));
  assert.deepEqual(events.filter((e) => e.action === 'approved').map((e) => e.actor), ['bob', 'carol'], 'one approval each: the forged, stale, unmapped and replayed clicks left no trace');
  const done = events.find((e) => e.action === 'succeeded')!;
  assert.equal(done.actor, 'alice');
  assert.deepEqual(done.approvers, ['bob', 'carol']);
  assert.equal(done.version, 'v2');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);
  const byBob = await exported(file, '--actor', 'bob', '--action', 'approved');
  assert.deepEqual(byBob.map((e) => e.operation_id), [deployId]);
  const csv = await w.cutover(['-c', file, 'audit', '--deploy', deployId, '--format', 'csv'], 'audit');
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'at,app,env,operation,operation_id,action,actor,version,approvers,outcome,message,detail,id');
  assert.equal(lines.length, events.length + 1);
  const table = await w.cutover(['-c', file, 'audit', '--app', 'shop', '--env', 'prod', '--action', 'approved'], 'audit');
  assert.match(table.stdout, /shop\/prod\s+approved\s+bob\s+v2\s+deploy of v2 before traffic moves to green: approved by bob/);
  assert.match(table.stderr, /2 event\(s\)/);
  recordHistory(w.server.address, deployId, 'bluegreen-audited');
});

test('PostgreSQL stopped mid-deploy: the deploy goes on, its events wait (visible as a retrying activity), and land once each after the restart', async (t) => {
  const file = auditedConfig('audit-pg-down');
  await pg.stop();
  t.after(() => (pg.isRunning() ? undefined : pg.start()));
  const load = w.startLoad();
  const deploying = w.cutover(['-c', file, 'deploy', 'shop', 'prod', 'v3', '--wait'], 'pgdown');
  await eventually('v3 serves on both routers while PostgreSQL is down', () => w.served().every((s) => s === '200 v3'), 90_000);
  const deployId = (await w.envState())?.running?.id;
  assert.ok(deployId, 'the deploy is still running: it waits for its audit events');
  await eventually(
    'the pending audit write shows its retries',
    async () => {
      const d = await w.client.workflow.getHandle(deployId).describe();
      return d.raw.pendingActivities?.some((a) => a.activityType?.name === 'auditWrite' && (a.attempt ?? 0) >= 2) === true;
    },
    60_000,
  );
  await pg.start();
  const run = await deploying;
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assertNoFailedRequests(await load.stop());
  const events = await exported(file, '--deploy', deployId);
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'none duplicated');
  const seq = events.map((e) => (e.action === 'step' ? `step:${String(e.detail.phase)}` : e.action));
  assert.deepEqual(seq, ['requested', 'step:reading', 'step:checking', 'started', 'step:preparing', 'step:starting', 'step:health-check', 'step:switching', 'step:switching', 'switched', 'step:verifying', 'succeeded'], 'none lost');
});

test('the worker keeps a daily purge Schedule; a purge deletes what is older than 90 days and nothing newer', async () => {
  const file = auditedConfig('audit-purge');
  pg.sql(
    `INSERT INTO cutover_audit_events (id, at, app, env, operation, operation_id, action, actor, message) VALUES ('old:1', now() - interval '100 days', 'shop', 'prod', 'deploy', 'deploy/shop/prod/old', 'succeeded', 'mallory', 'long ago'), ('old:2', now() - interval '89 days', 'shop', 'prod', 'deploy', 'deploy/shop/prod/recent', 'succeeded', 'mallory', 'within retention')`,
  );
  const before = Number(pg.sql('SELECT count(*) FROM cutover_audit_events'));
  const schedule = w.client.schedule.getHandle('cutover-audit-purge');
  const described = await schedule.describe();
  assert.equal(described.action.type, 'startWorkflow');
  assert.deepEqual(described.spec.calendars?.[0]?.hour, [{ start: 3, end: 3, step: 1 }]);
  await schedule.trigger();
  await eventually('the purge ran', async () => ((await schedule.describe()).info.recentActions.length > 0), 30_000);
  const workflowId = (await schedule.describe()).info.recentActions[0]!.action.workflow.workflowId;
  const result = (await w.client.workflow.getHandle(workflowId).result()) as { deleted: number };
  assert.equal(result.deleted, 1);
  assert.equal(Number(pg.sql('SELECT count(*) FROM cutover_audit_events')), before - 1);
  assert.equal(pg.sql(`SELECT string_agg(id, ',') FROM cutover_audit_events WHERE actor = 'mallory'`), 'old:2');
  assert.equal((await exported(file, '--actor', 'mallory')).length, 1);
  recordHistory(w.server.address, workflowId, 'audit-purge');
});
