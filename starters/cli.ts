// The `cutover` command line: validate, deploy, rollback, status, and promote | pause | resume | abort of a canary.
// Exit codes (starters/output.ts EXIT, README): 0 success, 1 failed and rolled back, 2 bad input, 3 Temporal
// unreachable, 4 refused (environment not deployable); 2, 3 and 4 changed nothing.
// Only commander is loaded up front: each command loads what it needs when it runs, so
// `cutover --help` answers without loading zod, YAML or the Temporal client.
import { Command, CommanderError, Option } from 'commander';
import type { DeployOptions } from './commands';
import type { GlobalOptions, OperationOptions } from './config-file';
import { EXIT, EXIT_CATEGORY, Output, processIo, type Io, type Outcome } from './output';

const commands = () => import('./commands');
const canary = () => import('./canary-control');
const gates = () => import('./gate-control');
const freezes = () => import('./freeze-list');
const schedules = () => import('./schedules');
const failover = () => import('./failover');

function buildProgram(io: Io, run: (action: (g: GlobalOptions, out: Output) => Promise<Outcome> | Outcome) => Promise<void>): Command {
  const program = new Command('cutover')
    .description('Durable blue-green and canary deploys over SSH + nginx, run by Temporal')
    .option('-c, --config <file>', 'config file (default: $CUTOVER_CONFIG or ./cutover.yml)')
    .option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS, the file, the Temporal profile, 127.0.0.1:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, the file, the Temporal profile, default)')
    .option('--json', 'print one JSON object on stdout at the end; progress goes to stderr')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s.replace(/\n$/, '')),
      writeErr: (s) => io.stderr(s.replace(/\n$/, '')),
    })
    .showHelpAfterError('(run cutover --help for usage)');

  program
    .command('validate')
    .description('check the config file')
    .action(() => run(async (g, out) => (await import('./config-file')).validateCommand(g, io, out)));

  program
    .command('deploy')
    .description("deploy a version to an environment (blue-green or canary, as the environment's strategy says)")
    .argument('<app>')
    .argument('<env>')
    .argument('<version>', 'version to deploy: 1-128 letters, digits, ".", "_", "-", starting with a letter or digit, no ".."')
    .option('--wait', 'follow the deploy until it ends; the exit code tells how it went')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id)'))
    .option('--at <time>', 'schedule it: "2026-11-23 02:00 Europe/Berlin" (returns at once; cutover cancel drops it)')
    .option('--break-glass <reason>', 'go through a freeze window once a break-glass approver runs cutover approve')
    .action((app: string, env: string, version: string, opts: DeployOptions) =>
      run(async (g, out) => (await commands()).deployCommand(app, env, version, opts, g, io, out)),
    );

  program
    .command('rollback')
    .description('switch back to the previous colour while it is still alive')
    .argument('<app>')
    .argument('<env>')
    .option('--wait', 'follow the rollback until it ends')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id)'))
    .action((app: string, env: string, opts: OperationOptions) => run(async (g, out) => (await commands()).rollbackCommand(app, env, opts, g, io, out)));

  program
    .command('status')
    .description('what is live, what is kept for rollback, what is queued, where a running canary stands')
    .argument('<app>')
    .argument('<env>')
    .action((app: string, env: string) => run(async (g, out) => (await commands()).statusCommand(app, env, g, io, out)));

  program
    .command('promote')
    .description('move a running canary on to its next step now (past a pause, or one waiting for promote)')
    .argument('<app>')
    .argument('<env>')
    .option('--full', 'go straight to 100%')
    .action((app: string, env: string, opts: { full?: boolean }) =>
      run(async (g, out) => (await canary()).canaryControlCommand(app, env, { action: 'promote', full: opts.full === true }, g, io, out)),
    );

  program
    .command('pause')
    .description('hold a running canary at its step (it keeps measuring) until cutover resume')
    .argument('<app>')
    .argument('<env>')
    .action((app: string, env: string) => run(async (g, out) => (await canary()).canaryControlCommand(app, env, { action: 'pause' }, g, io, out)));

  program
    .command('resume')
    .description('let a paused canary go on')
    .argument('<app>')
    .argument('<env>')
    .action((app: string, env: string) => run(async (g, out) => (await canary()).canaryControlCommand(app, env, { action: 'resume' }, g, io, out)));

  program
    .command('abort')
    .description('stop a running canary: every host goes back to the stable colour (the deploy fails, exit 1 for its follower)')
    .argument('<app>')
    .argument('<env>')
    .option('--reason <text>', 'why, for the deploy failure and Slack')
    .action((app: string, env: string, opts: { reason?: string }) =>
      run(async (g, out) => (await canary()).canaryControlCommand(app, env, { action: 'abort', ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }, g, io, out)),
    );

  program
    .command('approve')
    .description('approve a deploy waiting for its approvals (or a --break-glass deploy in a freeze); you must be an approver')
    .argument('<app>')
    .argument('<env>')
    .option('--deploy <id>', 'the deploy to approve (default: the one waiting in the environment)')
    .option('--comment <text>', 'why, for the journal and Slack')
    .action((app: string, env: string, opts: { deploy?: string; comment?: string }) => run(async (g, out) => (await gates()).decideCommand('approve', app, env, opts, g, io, out)));

  program
    .command('reject')
    .description('reject a deploy waiting for its approvals: it ends before any traffic moves (its follower exits 1)')
    .argument('<app>')
    .argument('<env>')
    .option('--deploy <id>', 'the deploy to reject (default: the one waiting in the environment)')
    .requiredOption('--comment <text>', 'why')
    .action((app: string, env: string, opts: { deploy?: string; comment: string }) => run(async (g, out) => (await gates()).decideCommand('reject', app, env, opts, g, io, out)));

  program
    .command('slack-gateway')
    .description('serve the Approve / Reject buttons: Slack interactivity URL http://HOST:$CUTOVER_GATEWAY_PORT/slack/events (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN)')
    .action(() => run(async (g, out) => (await import('./slack-gateway')).slackGatewayCommand(g, io, out)));

  program
    .command('cancel')
    .description('drop a scheduled or queued deploy, or one still held by a freeze or its time (nothing was changed by it)')
    .argument('<app>')
    .argument('<env>')
    .argument('<id>', 'the deploy id (cutover status lists them)')
    .action((app: string, env: string, id: string) => run(async (g, out) => (await gates()).cancelCommand(app, env, id, g, io, out)));

  program
    .command('audit')
    .description('the audit log (PostgreSQL): who did what, when, approved by whom')
    .option('--app <app>', 'only this app')
    .option('--env <env>', 'only this environment')
    .option('--actor <name>', 'only what this person did (their approvals and rejections, the deploys they triggered)')
    .option('--action <action>', 'only this action (requested, approved, rejected, started, switched, succeeded, failed, rolled-back, ...)')
    .option('--deploy <id>', 'only this deploy or rollback (its id)')
    .option('--since <when>', 'from this time: 7d (ago), 2026-11-23, "2026-11-23 14:00 Europe/Berlin", ISO 8601')
    .option('--until <when>', 'before this time (same forms)')
    .option('--limit <n>', 'at most this many events (oldest first)')
    .option('--format <format>', 'table, json or csv', 'table')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL, then audit.databaseUrl in cutover.yml; password in PGPASSWORD)')
    .action((opts: Record<string, string | undefined>) => run(async (g, out) => (await import('./audit')).auditCommand(opts, g, io, out)));

  program
    .command('freeze')
    .description('freeze windows')
    .command('list')
    .description("the freeze windows in force and the next ones, in your time zone and the window's")
    .option('--app <app>', 'only the windows of this app')
    .option('--env <env>', 'only the windows of this environment')
    .option('--count <n>', 'how many upcoming openings to show', '10')
    .action((opts: { app?: string; env?: string; count: string }) => run(async (g, out) => (await freezes()).freezeListCommand(opts, g, io, out)));

  const schedule = program.command('schedule').description('recurring deploys as Temporal Schedules (on the Schedules page of the Temporal UI)');
  schedule
    .command('create')
    .description('deploy on a cron, with the version taken from a command on the first host or an HTTP URL')
    .argument('<name>')
    .requiredOption('--app <app>')
    .requiredOption('--env <env>')
    .requiredOption('--cron <expr>', 'five fields, e.g. "0 3 * * 1-5"')
    .option('--timezone <tz>', 'IANA time zone of the cron', 'UTC')
    .requiredOption('--version-from <source>', '"command:readlink /srv/shop/releases/latest" (run on the first host) or an http(s) URL answering the version')
    .action((name: string, opts: { app: string; env: string; cron: string; timezone: string; versionFrom: string }) =>
      run(async (g, out) => (await schedules()).scheduleCreateCommand(name, opts, g, io, out)),
    );
  schedule
    .command('list')
    .description('the cutover schedules, their next runs and their last results')
    .action(() => run(async (g, out) => (await schedules()).scheduleListCommand(g, io, out)));
  for (const [verb, what] of [
    ['pause', 'stop a schedule from firing until unpaused'],
    ['unpause', 'let a paused schedule fire again'],
    ['delete', 'delete a schedule (deploys it started go on)'],
    ['trigger', 'run a schedule once now'],
  ] as const) {
    schedule
      .command(verb)
      .description(what)
      .argument('<name>')
      .action((name: string) => run(async (g, out) => (await schedules()).scheduleActionCommand(verb, name, g, io, out)));
  }

  const fo = program.command('failover').description('disaster-recovery failover of a sites: service (README, "Disaster recovery")');
  fo.command('status')
    .description('the monitor and the latest failover of a site')
    .argument('<site>')
    .action((site: string) => run(async (g, out) => (await failover()).failoverStatusCommand(site, g, io, out)));
  fo.command('start')
    .description('fail over now: fence the primary, promote the standby, scale it, repoint DNS, smoke-test')
    .argument('<site>')
    .option('--accept-data-loss', 'promote even when the standby lags more than the gate allows')
    .option('--reason <text>', 'why (Slack, the audit trail)')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id, else the time)'))
    .option('--wait', 'follow it until it ends; the exit code tells how it went')
    .action((site: string, opts: { acceptDataLoss?: boolean; reason?: string; key?: string; wait?: boolean }) =>
      run(async (g, out) => (await failover()).failoverStartCommand(site, opts, g, io, out)),
    );
  fo.command('confirm')
    .description("start the failover of the monitor's open incident")
    .argument('<site>')
    .option('--accept-data-loss', 'promote even when the standby lags more than the gate allows')
    .action((site: string, opts: { acceptDataLoss?: boolean }) => run(async (g, out) => (await failover()).failoverConfirmCommand(site, opts, g, io, out)));
  fo.command('abort')
    .description('stop a running failover before promotion and undo its fence')
    .argument('<site>')
    .option('--reason <text>', 'why')
    .action((site: string, opts: { reason?: string }) => run(async (g, out) => (await failover()).failoverAbortCommand(site, opts, g, io, out)));
  program
    .command('failback')
    .description('after a failover: re-seed the old primary from the promoted standby (fence.reseed), then fail over back to it')
    .argument('<site>')
    .option('--reason <text>', 'why')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id, else the time)'))
    .option('--wait', 'follow it until it ends')
    .action((site: string, opts: { key?: string; wait?: boolean; reason?: string }) => run(async (g, out) => (await failover()).failbackCommand(site, opts, g, io, out)));
  fo.command('monitor')
    .description('start the monitor of a site (probes the primary; opens incidents)')
    .argument('<site>')
    .action((site: string) => run(async (g, out) => (await failover()).failoverMonitorCommand(site, g, io, out)));

  return program;
}

/** Run the CLI; resolves to the exit code. Never throws. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  let globals: GlobalOptions = {};
  const program = buildProgram(io, async (action) => {
    globals = program.opts<GlobalOptions>();
    const out = new Output(io, globals.json === true);
    let report: Record<string, unknown>;
    try {
      const outcome = await action(globals, out);
      exitCode = outcome.exitCode;
      report = outcome.raw ? outcome.report : { ok: exitCode === EXIT.ok, exitCode, category: EXIT_CATEGORY[outcome.exitCode], ...outcome.report };
    } catch (err) {
      const [{ classify }, { addressFor }] = await Promise.all([import('./classify'), import('../config/temporal')]);
      const c = classify(err, addressFor(undefined, io.env, globals));
      for (const line of c.message.split('\n')) out.error(line);
      exitCode = c.exitCode;
      report = { ok: false, exitCode, category: EXIT_CATEGORY[c.exitCode], error: c.message, ...c.details };
    }
    if (out.json) io.stdout(JSON.stringify(report));
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
      if (exitCode !== EXIT.ok && argv.includes('--json')) {
        io.stdout(JSON.stringify({ exitCode, ok: false, category: EXIT_CATEGORY[EXIT.badInput], error: err.message }));
      }
    } else {
      const { causeChain } = await import('./format');
      io.stderr(`error: ${causeChain(err).join('; caused by: ')}`);
      exitCode = EXIT.failed;
    }
  }
  return exitCode;
}
