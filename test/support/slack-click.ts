// What Slack sends the gateway when someone clicks a button: a signed block_actions payload.
import { createHmac } from 'node:crypto';

/** Slack's request signing: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>"). */
export function slackSigned(body: string, secret: string, at = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex')}`;
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(at), 'x-slack-signature': signature };
}

export interface ButtonClick {
  /** Slack user id of the clicker, e.g. U0BOB. */
  user: string;
  actionId: string;
  blockId: string;
  value: string;
  label: string;
  /** The message holding the button. */
  channel: string;
  channelName: string;
  ts: string;
  text: string;
}

/** A click on a button of message `ts` in `channel`, as the form body Slack posts. */
export function buttonClickBody(c: ButtonClick): string {
  const payload = {
    type: 'block_actions',
    user: { id: c.user, username: c.user.toLowerCase(), name: c.user.toLowerCase(), team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: c.ts, channel_id: c.channel, is_ephemeral: false },
    trigger_id: '1.2.3',
    team: { id: 'T0TEAM', domain: 'example' },
    channel: { id: c.channel, name: c.channelName },
    message: { type: 'message', ts: c.ts, text: c.text },
    response_url: 'http://127.0.0.1:9/unused',
    actions: [{ type: 'button', action_id: c.actionId, block_id: c.blockId, value: c.value, action_ts: '1700000000.000001', text: { type: 'plain_text', text: c.label } }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
