// Approvals from Slack buttons, end to end: a deploy waiting for 2 of 3 approvers posts Approve /
// Reject buttons; `cutover slack-gateway` (the real CLI process) receives Slack's interactive
// payloads signed with the app's signing secret. A forged or stale signature gets 401 and changes
// nothing, an unmapped Slack user changes nothing, a replayed valid click does not approve twice,
// and a Slack approval plus a CLI approval let the deploy through with no failed request.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import { freePort } from '../../sandbox/procs';
import { assertNoFailedRequests, eventually, startWorld, type World } from '../support/world';

const SECRET = 'test-signing-secret';
const CLI = join(__dirname, '..', '..', 'bin', 'cutover');
let w: World;
let gateway: ChildProcess | undefined;
let gatewayLog = '';

before(async () => {
  w = await startWorld('slack', { v1: undefined, v2: undefined });
});

after(async () => {
  gateway?.kill('SIGKILL');
  await w?.stop();
});

/** Slack's request signing: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>"). */
function signed(body: string, at = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex')}`;
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(at), 'x-slack-signature': signature };
}

/** A click on a button of the message `ts` in `channel`, by Slack user `user`. */
function click(user: string, action: 'cutover_approve' | 'cutover_reject', deployId: string, channel: string, ts: string): string {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: ts, channel_id: channel, is_ephemeral: false },
    trigger_id: '1.2.3',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: { id: channel, name: 'deploys' },
    message: { type: 'message', ts, text: 'waiting for approvals' },
    response_url: 'http://127.0.0.1:9/unused',
    actions: [{ type: 'button', action_id: action, block_id: 'cutover_approval', value: deployId, action_ts: '1700000000.000001', text: { type: 'plain_text', text: 'Approve' } }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

test('Approve in Slack through the signed gateway, forged, stale, unmapped and replayed clicks refused', async () => {
  const file = w.config('slack', { edit: (env) => Object.assign(env, { approval: { required: 2, approvers: ['alice', 'bob', 'carol'], before: 'switch', timeout: '1h' } }) });
  const config = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, YAML.stringify({ ...config, slackUsers: { bob: 'U0BOB', carol: 'U0CAROL' } }));
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
  const posted = w.slack.calls().find((c) => c.method === 'chat.postMessage' && JSON.stringify(c.body).includes('cutover_approve'));
  assert.ok(posted, 'the waiting deploy posted Approve / Reject buttons');
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
});
