// Slack notifications: one thread per deploy. The parent message is a headline that is
// updated as the deploy moves on; every event is a reply in the thread.
//
// Idempotency: every message carries `metadata.event_payload.key`; before posting we look for a
// message with the same key (thread replies, or the channel's recent history for parents), so
// an activity retried after it posted but before it reported does not post twice.
//
// Channels may be given as IDs (C0123ABC) or names (#deploys). chat.postMessage accepts both,
// but chat.update and conversations.history/replies only accept IDs, so names are resolved once
// through conversations.list (bot scopes: chat:write, channels:read, channels:history, and
// groups:read + groups:history for private channels).
import { ErrorCode, LogLevel, WebClient, type KnownBlock } from '@slack/web-api';
import { ApplicationFailure } from '@temporalio/common';

export interface SlackDeps {
  token?: string;
  apiUrl?: string;
  log?: (line: string) => void;
}
/** `key` is the idempotency key, e.g. `${deployId}:switched`. */
export interface SlackPostInput {
  channel: string;
  text: string;
  threadTs?: string;
  key: string;
  /** Approve / Reject buttons for this deploy (handled by `cutover slack-gateway`). */
  approvalButtons?: { deployId: string };
  /** A "Confirm failover" button for this monitor workflow (handled by `cutover slack-gateway`). */
  failoverButton?: { monitorId: string; site: string; standby: string };
}
export interface SlackUpdateInput {
  channel: string;
  ts: string;
  text: string;
}

export interface SlackActivities {
  /** Post (or find the already-posted) message; `ts` is null when Slack is not configured. */
  slackPost(input: SlackPostInput): Promise<{ ts: string | null }>;
  slackUpdate(input: SlackUpdateInput): Promise<void>;
}

export const SLACK_EVENT_TYPE = 'cutover_notification';

/** Slack errors that retrying cannot fix: the token or the channel setup is wrong. */
const CONFIG_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'not_authed',
  'missing_scope',
]);

const CHANNEL_ID = /^[CGD][A-Z0-9]{4,}$/; // channel names are lowercase, so they never match

export function createSlackActivities(deps: SlackDeps): SlackActivities {
  const log = deps.log ?? ((line: string) => console.log(line));
  const client = deps.token
    ? new WebClient(deps.token, {
        slackApiUrl: deps.apiUrl && !deps.apiUrl.endsWith('/') ? `${deps.apiUrl}/` : deps.apiUrl,
        retryConfig: { retries: 0 }, // Temporal retries the activity
        rejectRateLimitedCalls: true, // surface 429 at once; we hand Retry-After to Temporal
        timeout: 10_000,
        logLevel: LogLevel.ERROR,
      })
    : undefined;
  const channelIds = new Map<string, string>();

  async function resolveChannel(slack: WebClient, channel: string): Promise<string> {
    if (CHANNEL_ID.test(channel)) return channel;
    const name = channel.replace(/^#/, '');
    const known = channelIds.get(name);
    if (known) return known;
    let cursor: string | undefined;
    do {
      const page = await call('conversations.list', () =>
        slack.conversations.list({
          types: 'public_channel,private_channel',
          exclude_archived: true,
          limit: 200,
          cursor,
        }),
      );
      for (const c of page.channels ?? []) if (c.name && c.id) channelIds.set(c.name, c.id);
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor && !channelIds.has(name));
    const id = channelIds.get(name);
    if (!id) {
      throw ApplicationFailure.nonRetryable(
        `slack conversations.list: channel_not_found (no channel named #${name} visible to the bot; invite it or use the channel ID)`,
        'SlackConfigError',
      );
    }
    return id;
  }

  /** The ts of a message already carrying `key`, or undefined. */
  async function findByKey(
    slack: WebClient,
    channel: string,
    key: string,
    threadTs: string | undefined,
  ): Promise<string | undefined> {
    const has = (m: { ts?: string; metadata?: { event_type?: string; event_payload?: object } }) =>
      m.metadata?.event_type === SLACK_EVENT_TYPE &&
      (m.metadata.event_payload as { key?: unknown } | undefined)?.key === key;

    if (threadTs === undefined) {
      const page = await call('conversations.history', () =>
        slack.conversations.history({ channel, include_all_metadata: true, limit: 50 }),
      );
      return page.messages?.find(has)?.ts;
    }
    let cursor: string | undefined;
    do {
      const page = await call('conversations.replies', () =>
        slack.conversations.replies({ channel, ts: threadTs, include_all_metadata: true, limit: 200, cursor }),
      );
      const found = page.messages?.find(has)?.ts;
      if (found) return found;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }

  return {
    async slackPost(input: SlackPostInput): Promise<{ ts: string | null }> {
      if (!client) {
        log(`slack not configured; would post to ${input.channel}: ${input.text}`);
        return { ts: null };
      }
      const channel = await resolveChannel(client, input.channel);
      const existing = await findByKey(client, channel, input.key, input.threadTs);
      if (existing) return { ts: existing };
      const res = await call('chat.postMessage', () =>
        client.chat.postMessage({
          channel,
          text: input.text,
          thread_ts: input.threadTs,
          unfurl_links: false,
          metadata: { event_type: SLACK_EVENT_TYPE, event_payload: { key: input.key } },
          ...(input.approvalButtons ? { blocks: approvalBlocks(input.text, input.approvalButtons.deployId) } : {}),
          ...(input.failoverButton ? { blocks: failoverBlocks(input.text, input.failoverButton) } : {}),
        }),
      );
      if (!res.ts) throw new Error('slack chat.postMessage: response has no ts');
      return { ts: res.ts };
    },

    /** Replace a message's text; updating to the same text again is harmless, so retries are safe. */
    async slackUpdate(input: SlackUpdateInput): Promise<void> {
      if (!client) {
        log(`slack not configured; would update ${input.channel} ${input.ts}: ${input.text}`);
        return;
      }
      const channel = await resolveChannel(client, input.channel);
      await call('chat.update', () => client.chat.update({ channel, ts: input.ts, text: input.text }));
    },
  };
}

/** The action ids of the Approve / Reject buttons; their value is the deploy's workflow id. */
export const APPROVAL_ACTIONS = { approve: 'cutover_approve', reject: 'cutover_reject' } as const;

/** The message's text with Approve / Reject buttons under it. */
export function approvalBlocks(text: string, deployId: string): KnownBlock[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    {
      type: 'actions',
      block_id: 'cutover_approval',
      elements: [
        { type: 'button', action_id: APPROVAL_ACTIONS.approve, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: deployId },
        { type: 'button', action_id: APPROVAL_ACTIONS.reject, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: deployId },
      ],
    },
  ];
}

/** The action id of the "Confirm failover" button; its value is the monitor's workflow id. */
export const FAILOVER_ACTIONS = { confirm: 'cutover_confirm_failover' } as const;

/** The incident's text with a "Confirm failover" button, behind Slack's own are-you-sure dialog. */
export function failoverBlocks(text: string, f: { monitorId: string; site: string; standby: string }): KnownBlock[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    {
      type: 'actions',
      block_id: 'cutover_failover',
      elements: [
        {
          type: 'button',
          action_id: FAILOVER_ACTIONS.confirm,
          style: 'danger',
          text: { type: 'plain_text', text: 'Confirm failover' },
          value: f.monitorId,
          confirm: {
            title: { type: 'plain_text', text: `Fail ${f.site} over?` },
            text: { type: 'mrkdwn', text: `${f.standby} will be promoted and take the traffic; there is no way back but a failback.` },
            confirm: { type: 'plain_text', text: 'Fail over' },
            deny: { type: 'plain_text', text: 'Cancel' },
            style: 'danger',
          },
        },
      ],
    },
  ];
}

/** Run one Web API call, turning its failures into errors Temporal's retry policy understands. */
async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: string; data?: { error?: string }; retryAfter?: number; message?: string };
    if (e.code === ErrorCode.PlatformError) {
      const code = e.data?.error ?? 'unknown_error';
      const message = `slack ${method} failed: ${code}`;
      if (CONFIG_ERRORS.has(code)) throw ApplicationFailure.nonRetryable(message, 'SlackConfigError');
      throw new Error(message);
    }
    if (e.code === ErrorCode.RateLimitedError) {
      throw ApplicationFailure.create({
        message: `slack ${method} failed: ratelimited (retry after ${e.retryAfter}s)`,
        type: 'SlackRateLimited',
        nextRetryDelay: (e.retryAfter ?? 1) * 1000,
      });
    }
    throw new Error(`slack ${method} failed: ${e.message ?? String(err)}`, { cause: err });
  }
}
