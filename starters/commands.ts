// The bodies of `cutover deploy | rollback | status` (validate is in config-file.ts, the canary controls in canary-control.ts).
export { checkNames, configPath, loadCliConfig, type GlobalOptions, type OperationOptions } from './config-file';
import type { Client } from '@temporalio/client';
import { ConfigError, resolvePlan } from '../config/load';
import type { Config } from '../config/schema';
import { checkNames, loadCliConfig, type GlobalOptions, type OperationOptions } from './config-file';
import { deployRequestSchema, envWorkflowId, rollbackRequestSchema, type Plan, type Trigger } from '../contract';
import { emptyState, NO_WORKER_HINT, queryEnvState, sendDeploy, sendRollback, withCanaryStatus } from './environment-client';
import { follow, type Target } from './follow';
import { formatStatus } from './format';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal, resolveTemporal, workflowUrl, type TemporalSettings } from './temporal';
import { deployIdFor, rollbackIdFor, triggerFromEnv } from './trigger';
import { checkReason } from './text-input';
import { parseAt } from './when';

/** What deploy and rollback differ in: the request's id and how it is sent. */
type BuildRequest = (plan: Plan, trigger: Trigger) => { id: string; send: (client: Client) => Promise<void>; scheduledFor?: { at: number; text: string } };

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
  const settings = await resolveTemporal({ file: { temporal: config.temporal, path: file }, env: io.env, flags: g });
  const target: Target = { kind, id: request.id, app, env, url: workflowUrl(settings, request.id) };
  const t = await connectTemporal(settings);
  try {
    const send = () => request.send(t.client);
    await send();
    const when = request.scheduledFor ? ` for ${request.scheduledFor.text}` : '';
    out.line(`${kind} of ${app}/${env}${version !== undefined ? ` ${version}` : ''} ${when ? 'scheduled' : 'requested'} by ${trigger.by}${when}: ${target.id}`);
    out.line(target.url);
    if (opts.wait !== true) {
      return { exitCode: EXIT.ok, report: { ok: true, id: target.id, url: target.url, requested: true, ...(request.scheduledFor ? { scheduledFor: request.scheduledFor } : {}) } };
    }
    return await follow(t, target, out, io, send);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export interface DeployOptions extends OperationOptions {
  /** `--at "2026-11-23 02:00 Europe/Berlin"`: schedule it. */
  at?: string;
  /** `--break-glass "reason"`: through a freeze, once a break-glass approver agrees. */
  breakGlass?: string;
}

export function deployCommand(app: string, env: string, version: string, opts: DeployOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const scheduledFor = opts.at !== undefined ? parseAt(opts.at, io.now().getTime()) : undefined;
  const reason = opts.breakGlass !== undefined ? checkReason(opts.breakGlass, '--break-glass') : undefined;
  return requestOperation('deploy', { app, env, version }, opts, g, io, out, (plan, trigger) => {
    if (reason !== undefined && !plan.freeze?.breakGlassApprovers.some((a) => a !== trigger.by)) {
      throw new CliError(`--break-glass: ${app}/${env} has no break-glass approver other than ${trigger.by}; add apps.${app}.environments.${env}.breakGlass.approvers to cutover.yml`, EXIT.badInput);
    }
    const deployId = deployIdFor(app, env, version, trigger, io.now(), io.random());
    const request = deployRequestSchema.parse({
      deployId,
      version,
      plan,
      trigger,
      ...(scheduledFor ? { scheduledFor } : {}),
      ...(reason !== undefined ? { breakGlass: { reason } } : {}),
    });
    return { id: deployId, send: (client) => sendDeploy(client, request), ...(scheduledFor ? { scheduledFor } : {}) };
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
export function settingsWithoutPlan(g: GlobalOptions, io: Io): Promise<TemporalSettings> {
  let file: { temporal: Config['temporal']; path: string } | undefined;
  try {
    const loaded = loadCliConfig(g, io);
    file = { temporal: loaded.config.temporal, path: loaded.file };
  } catch (err) {
    const missing = err instanceof ConfigError && err.issues.some((i) => i.message.startsWith('file not found'));
    if (!missing || g.config !== undefined) throw err;
  }
  return resolveTemporal({ ...(file ? { file } : {}), env: io.env, flags: g });
}

export async function statusCommand(app: string, env: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkNames({ app, env });
  const settings = await settingsWithoutPlan(g, io);
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
