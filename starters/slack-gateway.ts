// `cutover slack-gateway`: the HTTP service Slack's interactivity URL points at. It runs until
// SIGINT or SIGTERM, then stops listening and closes its Temporal connection.
import { loadCliConfig, settingsWithoutPlan, type GlobalOptions } from './commands';
import { startSlackGateway } from './gateways/slack';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal } from './temporal';

const DEFAULT_PORT = 3000;

export async function slackGatewayCommand(g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const secret = io.env.SLACK_SIGNING_SECRET;
  if (!secret) throw new CliError('SLACK_SIGNING_SECRET is not set: the gateway checks every request against the Slack app\'s signing secret (Basic Information → App Credentials)', EXIT.badInput);
  const portText = io.env.CUTOVER_GATEWAY_PORT ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new CliError(`CUTOVER_GATEWAY_PORT: expected a port number, got ${JSON.stringify(portText)}`, EXIT.badInput);
  const { config } = loadCliConfig(g, io);
  const t = await connectTemporal(await settingsWithoutPlan(g, io));
  const gateway = await startSlackGateway({
    port,
    signingSecret: secret,
    ...(io.env.SLACK_BOT_TOKEN ? { token: io.env.SLACK_BOT_TOKEN } : {}),
    ...(io.env.SLACK_API_URL ? { slackApiUrl: io.env.SLACK_API_URL } : {}),
    slackUsers: config.slackUsers,
    client: t.client,
    log: (line) => out.line(line),
  });
  // This command serves until stopped: a signal ends it cleanly (not the CLI's "stopped following").
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  out.line(`${signal}: stopping the gateway`);
  await gateway.stop();
  await t.close().catch(() => undefined);
  return { exitCode: EXIT.ok, report: { ok: true, port: gateway.port } };
}
