// The bodies of `cutover validate | deploy | rollback | status` (the canary controls are in canary-control.ts).
import type { Client } from '@temporalio/client';
import { ConfigError, loadConfig, resolvePlan, summarize } from '../config/load';
import type { Config } from '../config/schema';
import { deployRequestSchema, envWorkflowId, rollbackRequestSchema, SAFE_NAME, type Plan, type Trigger } from '../contract';
import { emptyState, NO_WORKER_HINT, queryEnvState, sendDeploy, sendRollback, withCanaryStatus } from './environment-client';
import { follow, type Target } from './follow';
import { formatStatus } from './format';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal, temporalSettings, workflowUrl, type TemporalSettings } from './temporal';
import { deployIdFor, rollbackIdFor, triggerFromEnv } from './trigger';

export type GlobalOptions = {
  config?: string;
  address?: string;
  namespace?: string;
  json?: boolean;
};

export interface OperationOptions {
  wait?: boolean;
  key?: string;
}

/** Check each named argument, in order; throws a bad-input CliError. */
export function checkNames(names: Record<string, string | undefined>): void {
  for (const [field, value] of Object.entries(names)) {
    if (value !== undefined && !SAFE_NAME.test(value)) {
      throw new CliError(
        `${field}: ${JSON.stringify(value)} is not allowed; it must match ^[A-Za-z0-9._-]{1,128}$ (letters, digits, dot, underscore, dash)`,
        EXIT.badInput,
      );
    }
  }
}

export function configPath(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return g.config ?? (env.CUTOVER_CONFIG || 'cutover.yml');
}

function loadCliConfig(g: GlobalOptions, io: Io): { config: Config; file: string } {
  const file = configPath(g, io.env);
  return { config: loadConfig(file), file };
}

export function validateCommand(g: GlobalOptions, io: Io, out: Output): Outcome {
  const { config, file } = loadCliConfig(g, io);
  const s = summarize(config);
  out.line(`${file}: OK (${s.apps} apps, ${s.environments} environments, ${s.hosts} hosts)`);
  for (const note of s.notes) out.error(`note: ${note}`);
  return { exitCode: EXIT.ok, report: { ok: true, file, ...s } };
}

/** What deploy and rollback differ in: the request's id and how it is sent. */
type BuildRequest = (plan: Plan, trigger: Trigger) => { id: string; send: (client: Client) => Promise<void> };

/** Send a deploy or rollback request to the environment workflow and, with --wait, follow it. */
async function requestOperation(
  kind: 'deploy' | 'rollback',
  names: { app: string; env: string; version?: string },
  opts: OperationOptions,
  g: GlobalOptions,
  io: Io,
  out: Output,
  build: BuildRequest,
): Promise<Outcome> {
  checkNames(names);
  const { app, env, version } = names;
  const { config, file } = loadCliConfig(g, io);
  const plan = resolvePlan(config, app, env, file);
  const trigger = triggerFromEnv(io.env, { key: opts.key });
  const request = build(plan, trigger);
  const settings = temporalSettings(config.temporal, io.env, g);
  const target: Target = { kind, id: request.id, app, env, url: workflowUrl(settings, request.id) };
  const t = await connectTemporal(settings);
  try {
    const send = () => request.send(t.client);
    await send();
    out.line(`${kind} of ${app}/${env}${version !== undefined ? ` ${version}` : ''} requested by ${trigger.by}: ${target.id}`);
    out.line(target.url);
    if (opts.wait !== true) return { exitCode: EXIT.ok, report: { ok: true, id: target.id, url: target.url, requested: true } };
    return await follow(t, target, out, io, send);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export function deployCommand(app: string, env: string, version: string, opts: OperationOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return requestOperation('deploy', { app, env, version }, opts, g, io, out, (plan, trigger) => {
    const deployId = deployIdFor(app, env, version, trigger, io.now(), io.random());
    const request = deployRequestSchema.parse({ deployId, version, plan, trigger });
    return { id: deployId, send: (client) => sendDeploy(client, request) };
  });
}

export function rollbackCommand(app: string, env: string, opts: OperationOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return requestOperation('rollback', { app, env }, opts, g, io, out, (plan, trigger) => {
    const rollbackId = rollbackIdFor(app, env, trigger, io.now(), io.random());
    const request = rollbackRequestSchema.parse({ rollbackId, plan, trigger });
    return { id: rollbackId, send: (client) => sendRollback(client, request) };
  });
}

/**
 * Temporal settings for a command that needs no plan: the file is only read for its `temporal:`
 * section, so flags and env vars suffice without it (unless --config names a file).
 */
export function settingsWithoutPlan(g: GlobalOptions, io: Io): TemporalSettings {
  let fileTemporal: Config['temporal'];
  try {
    fileTemporal = loadCliConfig(g, io).config.temporal;
  } catch (err) {
    const missing = err instanceof ConfigError && err.issues.some((i) => i.message.startsWith('file not found'));
    if (!missing || g.config !== undefined) throw err;
  }
  return temporalSettings(fileTemporal, io.env, g);
}

export async function statusCommand(app: string, env: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkNames({ app, env });
  const settings = settingsWithoutPlan(g, io);
  const id = envWorkflowId(app, env);
  const url = workflowUrl(settings, id);
  const t = await connectTemporal(settings);
  try {
    const state = await queryEnvState(t, app, env);
    if (state === undefined) throw new CliError(`no answer from ${id}; ${NO_WORKER_HINT}`, EXIT.failed, { id, url });
    if (state === null) {
      out.line(`no deploys yet for ${app}/${env}`);
      return { exitCode: EXIT.ok, report: { ...emptyState(app, env) }, raw: true };
    }
    const shown = await withCanaryStatus(t, state);
    for (const line of formatStatus(shown, io.now().getTime(), url)) out.line(line);
    return { exitCode: EXIT.ok, report: { ...shown }, raw: true };
  } finally {
    await t.close().catch(() => undefined);
  }
}
