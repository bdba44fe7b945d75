// The `cutover` command line: validate, deploy, rollback, status.
// Exit codes: 0 success, 1 operation failed / rolled back, 2 bad input, 3 Temporal unreachable.
import { randomBytes } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ConfigError, loadConfig, resolvePlan, summarize } from '../config/load';
import type { Config } from '../config/schema';
import {
  deploySignal,
  progressQuery,
  rollbackSignal,
  SA,
  stateQuery,
  type DeployResult,
  type EnvState,
  type OperationKind,
  type ProgressEntry,
  type RollbackResult,
} from '../workflows/api';
import type { environmentWorkflow } from '../workflows/environment';
import {
  deployRequestSchema,
  envWorkflowId,
  rollbackRequestSchema,
  SAFE_NAME,
  TASK_QUEUE,
  type DeployRequest,
  type RollbackRequest,
} from '../workflows/plan';
import {
  causeChain,
  formatDeployResult,
  formatFailure,
  formatProgress,
  formatRollbackResult,
  formatStatus,
  formatWaiting,
} from './format';
import { connectTemporal, temporalSettings, TemporalUnreachableError, workflowUrl, type TemporalConnection } from './temporal';
import { deployIdFor, rollbackIdFor, triggerFromEnv } from './trigger';

export const EXIT = { ok: 0, failed: 1, badInput: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Everything the CLI touches outside itself, so tests can drive it in-process. */
export interface Io {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  now(): Date;
  random(): string;
  sleep(ms: number): Promise<void>;
}

export const processIo: Io = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => new Date(),
  random: () => randomBytes(3).toString('hex'),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export type GlobalOptions = {
  config?: string;
  address?: string;
  namespace?: string;
  json?: boolean;
};

/** What a command ends with: its exit code and the fields of the `--json` object. */
export interface Outcome {
  exitCode: ExitCode;
  report: Record<string, unknown>;
  /** Print `report` as it is under --json (status prints the state object itself). */
  raw?: boolean;
}

/** Human lines go to stdout, or to stderr under --json (stdout then carries one JSON object). */
export class Output {
  constructor(
    private readonly io: Io,
    readonly json: boolean,
  ) {}
  line(text: string): void {
    if (this.json) this.io.stderr(text);
    else this.io.stdout(text);
  }
  error(text: string): void {
    this.io.stderr(text);
  }
}

// ---- inputs ------------------------------------------------------------------------------

export function checkName(field: string, value: string): string {
  if (!SAFE_NAME.test(value)) {
    throw new CliError(
      `${field}: ${JSON.stringify(value)} is not allowed; it must match ^[A-Za-z0-9._-]{1,128}$ (letters, digits, dot, underscore, dash)`,
      EXIT.badInput,
    );
  }
  return value;
}

export function configPath(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return g.config ?? (env.CUTOVER_CONFIG || 'cutover.yml');
}

function loadCliConfig(g: GlobalOptions, io: Io): { config: Config; file: string } {
  const file = configPath(g, io.env);
  return { config: loadConfig(file), file };
}

// ---- Temporal calls ----------------------------------------------------------------------

const QUERY_TIMEOUT_MS = 5000;

async function withTimeout<T>(t: TemporalConnection, fn: () => Promise<T>): Promise<T> {
  return t.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, fn);
}

async function workflowExists(client: Client, id: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The environment's state; null if the workflow does not exist, undefined if nobody answered in time. */
async function queryEnvState(t: TemporalConnection, app: string, env: string): Promise<EnvState | null | undefined> {
  try {
    return await withTimeout(t, () => t.client.workflow.getHandle(envWorkflowId(app, env)).query(stateQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    if (grpcCode(err) === 4 /* DEADLINE_EXCEEDED */) return undefined;
    throw err;
  }
}

function envStartOptions(app: string, env: string) {
  return {
    workflowId: envWorkflowId(app, env),
    taskQueue: TASK_QUEUE,
    args: [{ app, env }] as [{ app: string; env: string }],
    typedSearchAttributes: [
      { key: SA.app, value: app },
      { key: SA.env, value: env },
    ],
  };
}

export async function sendDeploy(client: Client, request: DeployRequest): Promise<void> {
  const { app, env } = request.plan;
  await client.workflow.signalWithStart<typeof environmentWorkflow, [DeployRequest]>('environmentWorkflow', {
    ...envStartOptions(app, env),
    signal: deploySignal,
    signalArgs: [request],
  });
}

export async function sendRollback(client: Client, request: RollbackRequest): Promise<void> {
  const { app, env } = request.plan;
  await client.workflow.signalWithStart<typeof environmentWorkflow, [RollbackRequest]>('environmentWorkflow', {
    ...envStartOptions(app, env),
    signal: rollbackSignal,
    signalArgs: [request],
  });
}

// ---- following an operation --------------------------------------------------------------

export interface Target {
  kind: OperationKind;
  id: string;
  app: string;
  env: string;
  url: string;
}

/** Wait until the operation's workflow exists, reporting the queue; then follow it to the end. */
export async function follow(t: TemporalConnection, target: Target, out: Output, io: Io): Promise<Outcome> {
  let lastWaiting = '';
  let warnedSilent = false;
  for (;;) {
    if (await workflowExists(t.client, target.id)) return followWorkflow(t, target, out, io);
    const state = await queryEnvState(t, target.app, target.env);
    if (state === undefined) {
      if (!warnedSilent) {
        out.line(`no answer from ${envWorkflowId(target.app, target.env)} yet; is a cutover worker polling task queue "${TASK_QUEUE}"?`);
        warnedSilent = true;
      }
    } else if (state !== null) {
      const refused = state.rejected.find((r) => r.id === target.id);
      if (refused) {
        throw new CliError(`${target.kind} ${target.id} was refused: ${refused.reason}`, EXIT.badInput, { id: target.id, url: target.url });
      }
      const done = state.recent.find((r) => r.id === target.id);
      if (done && !(await workflowExists(t.client, target.id))) {
        // Finished earlier (a retried CI job) and its history is gone: report what the environment remembers.
        const ok = done.outcome === 'succeeded';
        const text = `${target.kind} ${target.id} already ${done.outcome}${done.reason ? `: ${done.reason}` : ''}`;
        if (ok) out.line(text);
        else out.error(text);
        return { exitCode: ok ? EXIT.ok : EXIT.failed, report: { ok, id: target.id, url: target.url, outcome: done } };
      }
      const waiting = formatWaiting(state, target.id);
      if (waiting !== lastWaiting) {
        out.line(waiting);
        lastWaiting = waiting;
      }
    }
    await io.sleep(1000);
  }
}

async function printNewProgress(t: TemporalConnection, handle: WorkflowHandle, seen: number, out: Output): Promise<number> {
  let entries: ProgressEntry[];
  try {
    entries = await withTimeout(t, () => handle.query(progressQuery));
  } catch {
    return seen; // a slow or busy worker: try again on the next tick
  }
  if (entries.length < seen) seen = 0;
  for (const entry of entries.slice(seen)) out.line(formatProgress(entry));
  return entries.length;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

async function followWorkflow(t: TemporalConnection, target: Target, out: Output, io: Io): Promise<Outcome> {
  const handle = t.client.workflow.getHandle(target.id);
  const result: Promise<Settled> = handle.result().then(
    (value: unknown) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let seen = 0;
  let settled: Settled | undefined;
  while (!settled) {
    seen = await printNewProgress(t, handle, seen, out);
    settled = await Promise.race([result, io.sleep(1000).then(() => undefined)]);
  }
  await printNewProgress(t, handle, seen, out);
  const base = { id: target.id, url: target.url };
  if (settled.ok) {
    const summary =
      target.kind === 'deploy'
        ? formatDeployResult(target.app, target.env, settled.value as DeployResult)
        : formatRollbackResult(target.app, target.env, settled.value as RollbackResult);
    out.line(summary);
    out.line(target.url);
    return { exitCode: EXIT.ok, report: { ok: true, ...base, result: settled.value } };
  }
  if (settled.error instanceof WorkflowFailedError) {
    out.error(formatFailure(target.kind, target.id, settled.error));
    out.error(target.url);
    return { exitCode: EXIT.failed, report: { ok: false, ...base, error: causeChain(settled.error.cause ?? settled.error).join('; caused by: ') } };
  }
  throw settled.error;
}

// ---- commands ----------------------------------------------------------------------------

export function validateCommand(g: GlobalOptions, io: Io, out: Output): Outcome {
  const { config, file } = loadCliConfig(g, io);
  const s = summarize(config);
  out.line(`${file}: OK (${s.apps} apps, ${s.environments} environments, ${s.hosts} hosts)`);
  return { exitCode: EXIT.ok, report: { ok: true, file, ...s } };
}

export interface OperationOptions {
  wait?: boolean;
  key?: string;
}

async function runOperation(
  g: GlobalOptions,
  io: Io,
  out: Output,
  prepare: (config: Config, file: string) => { target: Omit<Target, 'url'>; send: (client: Client) => Promise<void>; what: string },
  wait: boolean,
): Promise<Outcome> {
  const { config, file } = loadCliConfig(g, io);
  const op = prepare(config, file);
  const settings = temporalSettings(config.temporal, io.env, g);
  const url = workflowUrl(settings, op.target.id);
  const target: Target = { ...op.target, url };
  const t = await connectTemporal(settings);
  try {
    await op.send(t.client);
    out.line(`${op.what}: ${target.id}`);
    out.line(url);
    if (!wait) return { exitCode: EXIT.ok, report: { ok: true, id: target.id, url, requested: true } };
    return await follow(t, target, out, io);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export async function deployCommand(
  app: string,
  env: string,
  version: string,
  opts: OperationOptions,
  g: GlobalOptions,
  io: Io,
  out: Output,
): Promise<Outcome> {
  checkName('app', app);
  checkName('env', env);
  checkName('version', version);
  return runOperation(
    g,
    io,
    out,
    (config, file) => {
      const plan = resolvePlan(config, app, env, file);
      const trigger = triggerFromEnv(io.env, { key: opts.key });
      const deployId = deployIdFor(app, env, version, trigger, io.now(), io.random());
      const request = deployRequestSchema.parse({ deployId, version, plan, trigger });
      return {
        target: { kind: 'deploy', id: deployId, app, env },
        send: (client) => sendDeploy(client, request),
        what: `deploy of ${app}/${env} ${version} requested by ${trigger.by}`,
      };
    },
    opts.wait === true,
  );
}

export async function rollbackCommand(
  app: string,
  env: string,
  opts: OperationOptions,
  g: GlobalOptions,
  io: Io,
  out: Output,
): Promise<Outcome> {
  checkName('app', app);
  checkName('env', env);
  return runOperation(
    g,
    io,
    out,
    (config, file) => {
      const plan = resolvePlan(config, app, env, file);
      const trigger = triggerFromEnv(io.env, { key: opts.key });
      const rollbackId = rollbackIdFor(app, env, trigger, io.now(), io.random());
      const request = rollbackRequestSchema.parse({ rollbackId, plan, trigger });
      return {
        target: { kind: 'rollback', id: rollbackId, app, env },
        send: (client) => sendRollback(client, request),
        what: `rollback of ${app}/${env} requested by ${trigger.by}`,
      };
    },
    opts.wait === true,
  );
}

/** An environment nobody has deployed to yet. */
export function emptyState(app: string, env: string): EnvState {
  return { app, env, live: null, previous: null, running: null, queue: [], recent: [], rejected: [], plan: null };
}

export async function statusCommand(app: string, env: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkName('app', app);
  checkName('env', env);
  // The file is only needed for the `temporal:` section here; flags and env vars suffice without it.
  let fileTemporal: Config['temporal'];
  try {
    fileTemporal = loadCliConfig(g, io).config.temporal;
  } catch (err) {
    const missing = err instanceof ConfigError && err.issues.some((i) => i.message.startsWith('file not found'));
    if (!missing || g.config !== undefined) throw err;
  }
  const settings = temporalSettings(fileTemporal, io.env, g);
  const id = envWorkflowId(app, env);
  const url = workflowUrl(settings, id);
  const t = await connectTemporal(settings);
  try {
    const state = await queryEnvState(t, app, env);
    if (state === undefined) {
      throw new CliError(`no answer from ${id}; is a cutover worker polling task queue "${TASK_QUEUE}"?`, EXIT.failed, { id, url });
    }
    if (state === null) {
      out.line(`no deploys yet for ${app}/${env}`);
      return { exitCode: EXIT.ok, report: { ...emptyState(app, env) }, raw: true };
    }
    for (const line of formatStatus(state, io.now().getTime(), url)) out.line(line);
    return { exitCode: EXIT.ok, report: { ...state }, raw: true };
  } finally {
    await t.close().catch(() => undefined);
  }
}

// ---- errors, program, main ---------------------------------------------------------------

function grpcCode(err: unknown): number | undefined {
  for (let cur: unknown = err, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Any error → exit code and message. */
export function classify(err: unknown, address: string): { exitCode: ExitCode; message: string; details: Record<string, unknown> } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message, details: err.details };
  if (err instanceof ConfigError) return { exitCode: EXIT.badInput, message: err.format(), details: { issues: err.issues } };
  if (err instanceof TemporalUnreachableError) return { exitCode: EXIT.unreachable, message: err.message, details: {} };
  const code = grpcCode(err);
  const reason = causeChain(err).join('; caused by: ');
  if (code === 14 /* UNAVAILABLE */ || code === 4 /* DEADLINE_EXCEEDED */) {
    return { exitCode: EXIT.unreachable, message: new TemporalUnreachableError(address, reason).message, details: {} };
  }
  if (code === 3 /* INVALID_ARGUMENT */ && /search attribute/i.test(reason)) {
    return {
      exitCode: EXIT.failed,
      message: `Temporal refused the request: ${reason} (register the cutover search attributes on the server; see temporal-dev.yml)`,
      details: {},
    };
  }
  return { exitCode: EXIT.failed, message: `error: ${reason}`, details: {} };
}

function buildProgram(io: Io, run: (action: (g: GlobalOptions, out: Output) => Promise<Outcome> | Outcome) => Promise<void>): Command {
  const program = new Command('cutover')
    .description('Durable blue-green deploys over SSH + nginx, run by Temporal')
    .option('-c, --config <file>', 'config file (default: $CUTOVER_CONFIG or ./cutover.yml)')
    .option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS, the file, 127.0.0.1:7233)')
    .option('--namespace <name>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, the file, default)')
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
    .action(() => run((g, out) => validateCommand(g, io, out)));

  program
    .command('deploy')
    .description('deploy a version to an environment (blue-green)')
    .argument('<app>')
    .argument('<env>')
    .argument('<version>', 'version to deploy, ^[A-Za-z0-9._-]{1,128}$')
    .option('--wait', 'follow the deploy until it ends; the exit code tells how it went')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id)'))
    .action((app: string, env: string, version: string, opts: OperationOptions) =>
      run((g, out) => deployCommand(app, env, version, opts, g, io, out)),
    );

  program
    .command('rollback')
    .description('switch back to the previous colour while it is still alive')
    .argument('<app>')
    .argument('<env>')
    .option('--wait', 'follow the rollback until it ends')
    .addOption(new Option('--key <key>', 'idempotency key (default: the CI pipeline/run id)'))
    .action((app: string, env: string, opts: OperationOptions) => run((g, out) => rollbackCommand(app, env, opts, g, io, out)));

  program
    .command('status')
    .description('what is live, what is kept for rollback, what is queued')
    .argument('<app>')
    .argument('<env>')
    .action((app: string, env: string) => run((g, out) => statusCommand(app, env, g, io, out)));

  return program;
}

/** Run the CLI; resolves to the exit code. Never throws. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  let globals: GlobalOptions = {};
  const program = buildProgram(io, async (action) => {
    globals = program.opts<GlobalOptions>();
    const out = new Output(io, globals.json === true);
    const address = temporalSettings(undefined, io.env, globals).address;
    let report: Record<string, unknown>;
    try {
      const outcome = await action(globals, out);
      exitCode = outcome.exitCode;
      report = outcome.raw ? outcome.report : { ok: exitCode === EXIT.ok, exitCode, ...outcome.report };
    } catch (err) {
      const c = classify(err, address);
      for (const line of c.message.split('\n')) out.error(line);
      exitCode = c.exitCode;
      report = { ok: false, exitCode, error: c.message, ...c.details };
    }
    if (out.json) io.stdout(JSON.stringify(report));
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.badInput;
      if (exitCode !== EXIT.ok && argv.includes('--json')) {
        io.stdout(JSON.stringify({ exitCode, ok: false, error: err.message }));
      }
    } else {
      io.stderr(`error: ${causeChain(err).join('; caused by: ')}`);
      exitCode = EXIT.failed;
    }
  }
  return exitCode;
}

if (require.main === module) {
  process.once('SIGINT', () => {
    process.stderr.write('\nstopped following; the operation itself goes on in Temporal (see the link above)\n');
    process.exit(130);
  });
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
