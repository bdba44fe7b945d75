// `cutover slack-gateway`: receives Slack's interactive payloads (the Approve / Reject buttons a
// deploy posts while it waits for approvals, the "Confirm failover" button of a DR incident) and
// sends the workflow the same Update the CLI would, as the person the clicking Slack user is
// mapped to in cutover.yml (`slackUsers`); the Update's validator applies the rule (approvers,
// the site's confirmers).
// Bolt's receiver checks the X-Slack-Signature HMAC with the signing secret and refuses
// requests older than 5 minutes (401); the Update's validator refuses a second approval by the
// same person, so a replayed click changes nothing.
import { App, HTTPReceiver, LogLevel, type BlockAction, type ButtonAction } from '@slack/bolt';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { APPROVAL_ACTIONS, FAILOVER_ACTIONS } from '../../activities/slack';
import { approveUpdate, rejectUpdate, type GateStatus } from '../../contract/api';
import { failoverConfirmUpdate } from '../../contract/failover';

export interface SlackGatewayOptions {
  port: number;
  signingSecret: string;
  /** Bot token, to update the message in place; without it the message stays as it was. */
  token?: string;
  slackApiUrl?: string;
  /** Approver name → Slack user id. */
  slackUsers: Record<string, string>;
  client: Client;
  log?: (line: string) => void;
}

export interface SlackGateway {
  port: number;
  stop(): Promise<void>;
}

/** What became of one click, for the log and the message. */
export type ClickOutcome = { ok: true; status: GateStatus } | { ok: false; reason: string };

export async function startSlackGateway(o: SlackGatewayOptions): Promise<SlackGateway> {
  const log = o.log ?? ((line: string) => console.log(line));
  const receiver = new HTTPReceiver({ signingSecret: o.signingSecret, endpoints: '/slack/events', processBeforeResponse: true });
  const app = new App({
    receiver,
    // The bot token is used as it is: no auth.test per workspace (one app, one workspace).
    authorize: async () => ({ botToken: o.token ?? 'xoxb-not-configured' }),
    logLevel: LogLevel.ERROR,
    ...(o.slackApiUrl ? { clientOptions: { slackApiUrl: o.slackApiUrl.endsWith('/') ? o.slackApiUrl : `${o.slackApiUrl}/` } } : {}),
  });
  const approverOf = (userId: string): string | undefined => Object.entries(o.slackUsers).find(([, id]) => id === userId)?.[0];

  app.action<BlockAction<ButtonAction>>(new RegExp(`^(${APPROVAL_ACTIONS.approve}|${APPROVAL_ACTIONS.reject})$`), async ({ ack, body, action, client }) => {
    await ack();
    const decision = action.action_id === APPROVAL_ACTIONS.approve ? 'approve' : 'reject';
    const deployId = action.value ?? '';
    const by = approverOf(body.user.id);
    let outcome: ClickOutcome;
    if (!by) {
      outcome = { ok: false, reason: `Slack user ${body.user.id} is not mapped to an approver (slackUsers in cutover.yml)` };
    } else {
      try {
        const handle = o.client.workflow.getHandle(deployId);
        const status =
          decision === 'approve'
            ? await handle.executeUpdate(approveUpdate, { args: [{ by, comment: 'from Slack' }] })
            : await handle.executeUpdate(rejectUpdate, { args: [{ by, comment: 'rejected in Slack' }] });
        outcome = { ok: true, status };
      } catch (err) {
        outcome = { ok: false, reason: err instanceof WorkflowUpdateFailedError ? String(err.cause?.message ?? err.message) : String(err) };
      }
    }
    log(`slack ${decision} of ${deployId} by ${by ?? body.user.id}: ${outcome.ok ? outcome.status.message : `refused: ${outcome.reason}`}`);
    const channel = body.channel?.id;
    const ts = body.message?.ts;
    if (!outcome.ok || !channel || !ts || !o.token) return;
    // The message in place: who decided, and how many are still needed.
    const text = decision === 'approve' ? `:white_check_mark: ${by} approved: ${outcome.status.message}` : `:x: rejected by ${by}`;
    await client.chat.update({ channel, ts, text }).catch((err: unknown) => log(`could not update the Slack message: ${String(err)}`));
  });

  app.action<BlockAction<ButtonAction>>(FAILOVER_ACTIONS.confirm, async ({ ack, body, action, client }) => {
    await ack();
    const monitorId = action.value ?? '';
    const by = approverOf(body.user.id);
    let refused: string | null = null;
    if (!by) {
      refused = `Slack user ${body.user.id} is not mapped to a person (slackUsers in cutover.yml)`;
    } else {
      try {
        await o.client.workflow.getHandle(monitorId).executeUpdate(failoverConfirmUpdate, { args: [{ by }] });
      } catch (err) {
        refused = err instanceof WorkflowUpdateFailedError ? String(err.cause?.message ?? err.message) : String(err);
      }
    }
    log(`slack failover confirm of ${monitorId} by ${by ?? body.user.id}: ${refused === null ? 'failing over' : `refused: ${refused}`}`);
    const channel = body.channel?.id;
    const ts = body.message?.ts;
    if (refused !== null || !channel || !ts || !o.token) return;
    await client.chat.update({ channel, ts, text: `:rotating_light: failover confirmed by ${by}; ${monitorId} is failing over` }).catch((err: unknown) => log(`could not update the Slack message: ${String(err)}`));
  });

  const server = await app.start(o.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  log(`cutover slack-gateway listening on :${port}/slack/events`);
  return { port, stop: () => app.stop().then(() => undefined) };
}
