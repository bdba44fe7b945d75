import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createSlackActivities, type SlackActivities } from '../../activities/slack';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack';

describe('slack activities against a fake Slack Web API', () => {
  let slack: FakeSlack;
  let acts: SlackActivities;
  const deployId = () => `shop-prod-${Math.random().toString(36).slice(2, 8)}`;

  before(async () => {
    slack = await startFakeSlack();
    acts = createSlackActivities({ token: slack.token, apiUrl: slack.url, log: () => {} });
  });
  after(() => slack.close());
  let callsBefore = 0;
  beforeEach(() => {
    callsBefore = slack.calls().length;
  });
  const postsSinceStart = () => slack.calls().slice(callsBefore).filter((c) => c.method === 'chat.postMessage');

  it('posts a parent and replies as one thread, and updates the headline', async () => {
    const id = deployId();
    const parent = await acts.slackPost({ channel: '#deploys', text: ':hourglass: shop prod: deploying v2 …', key: `${id}:parent` });
    assert.ok(parent.ts);
    const started = await acts.slackPost({ channel: '#deploys', text: 'started', threadTs: parent.ts, key: `${id}:started` });
    const switched = await acts.slackPost({ channel: '#deploys', text: 'switched to green', threadTs: parent.ts, key: `${id}:switched` });
    assert.notEqual(started.ts, switched.ts);
    await acts.slackUpdate({ channel: '#deploys', ts: parent.ts, text: ':white_check_mark: shop prod: v2 live on green' });

    const channel = slack.channelId('#deploys');
    const thread = slack.messages().filter((m) => m.ts === parent.ts || m.threadTs === parent.ts);
    assert.deepEqual(
      thread.map((m) => [m.channel, m.text, m.threadTs]),
      [
        [channel, ':white_check_mark: shop prod: v2 live on green', undefined],
        [channel, 'started', parent.ts],
        [channel, 'switched to green', parent.ts],
      ],
    );
    assert.deepEqual(thread[0]?.updates, [':white_check_mark: shop prod: v2 live on green']);
    assert.deepEqual(thread[1]?.metadata, { event_type: 'cutover_notification', event_payload: { key: `${id}:started` } });
    // the name was resolved to the ID that chat.update requires
    const update = slack.calls().find((c) => c.method === 'chat.update');
    assert.equal(update?.body.channel, channel);
  });

  it('a retried post with the same key does not post again (parent and reply)', async () => {
    const id = deployId();
    const first = await acts.slackPost({ channel: '#deploys', text: 'headline', key: `${id}:parent` });
    const again = await acts.slackPost({ channel: '#deploys', text: 'headline', key: `${id}:parent` });
    assert.equal(again.ts, first.ts);
    assert.ok(first.ts);
    const r1 = await acts.slackPost({ channel: '#deploys', text: 'done', threadTs: first.ts, key: `${id}:done` });
    const r2 = await acts.slackPost({ channel: '#deploys', text: 'done', threadTs: first.ts, key: `${id}:done` });
    assert.equal(r2.ts, r1.ts);
    assert.equal(slack.messages().filter((m) => m.ts === first.ts || m.threadTs === first.ts).length, 2);
    assert.equal(postsSinceStart().length, 2);
  });

  it('without a token nothing is sent and ts is null', async () => {
    const lines: string[] = [];
    const off = createSlackActivities({ apiUrl: slack.url, log: (l) => lines.push(l) });
    assert.deepEqual(await off.slackPost({ channel: '#deploys', text: 'hello', key: 'k' }), { ts: null });
    await off.slackUpdate({ channel: '#deploys', ts: '1.2', text: 'x' });
    assert.equal(slack.calls().length, callsBefore);
    assert.equal(lines[0], 'slack not configured; would post to #deploys: hello');
  });

  it('channel_not_found is a non-retryable SlackConfigError', async () => {
    const err = await acts.slackPost({ channel: '#missing-channel', text: 'x', key: 'k1' }).catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'SlackConfigError');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /channel_not_found/);

    slack.failNext('chat.postMessage', 'channel_not_found'); // e.g. a channel ID that was deleted
    const err2 = await acts.slackPost({ channel: slack.channelId('ops') ?? '', text: 'x', key: 'k2' }).catch((e: unknown) => e);
    assert.ok(err2 instanceof ApplicationFailure && err2.nonRetryable);
    assert.match(err2.message, /chat\.postMessage failed: channel_not_found/);
  });

  it('a wrong token is a non-retryable invalid_auth', async () => {
    const bad = createSlackActivities({ token: 'xoxb-wrong', apiUrl: slack.url });
    const err = await bad.slackPost({ channel: 'C00000001', text: 'x', key: 'k' }).catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'SlackConfigError');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /conversations\.history failed: invalid_auth/);
  });

  it('other Slack errors stay retryable; 429 hands Retry-After to Temporal', async () => {
    slack.failNext('chat.update', 'internal_error');
    const err = await acts.slackUpdate({ channel: '#deploys', ts: '1700000000.000100', text: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof ApplicationFailure));
    assert.equal(err.message, 'slack chat.update failed: internal_error');

    slack.failNext('conversations.history', 'ratelimited');
    const limited = await acts.slackPost({ channel: '#deploys', text: 'x', key: 'k' }).catch((e: unknown) => e);
    assert.ok(limited instanceof ApplicationFailure);
    assert.equal(limited.type, 'SlackRateLimited');
    assert.equal(limited.nonRetryable, false);
    assert.equal(limited.nextRetryDelay, 2000);
  });
});
