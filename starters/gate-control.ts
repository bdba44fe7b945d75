// `cutover approve | reject` (a deploy waiting for its approvals, or a break-glass deploy in a
// freeze) and `cutover cancel` (drop a
// scheduled or queued deploy, or one still waiting at its gates). Both are Updates: the
// workflow's validator answers at once, and a refusal (exit 2) changes nothing.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { approveUpdate, cancelUpdate, envWorkflowId, rejectUpdate } from '../contract';
import { refusalReason } from './canary-control';
import { checkReason } from './text-input';
import { checkNames, settingsWithoutPlan, type GlobalOptions } from './commands';
import { NO_WORKER_HINT, queryEnvState } from './environment-client';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal, workflowUrl, type TemporalConnection } from './temporal';
import { triggerFromEnv } from './trigger';

const UPDATE_TIMEOUT_MS = 10_000;

/** Send an Update and say how it was taken: accepted (0) or refused by the validator (2). */
async function update<R>(t: TemporalConnection, id: string, url: string, send: () => Promise<R>, out: Output, accepted: (r: R) => string): Promise<Outcome> {
  const base = { id, url };
  try {
    const r = await t.connection.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, send);
    out.line(accepted(r));
    out.line(url);
    return { exitCode: EXIT.ok, report: { ...base, result: r } };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = refusalReason(err);
      out.error(`refused: ${reason}`);
      out.error(url);
      return { exitCode: EXIT.badInput, report: { ...base, refused: true, error: reason } };
    }
    if (err instanceof WorkflowNotFoundError) throw new CliError(`${id} has already ended or does not exist`, EXIT.badInput, base);
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw new CliError(`no answer from ${id} within ${UPDATE_TIMEOUT_MS / 1000}s; ${NO_WORKER_HINT}`, EXIT.failed, base);
    throw err;
  }
}

/** `cutover approve` / `cutover reject`: to the deploy named, or the one waiting for an approval in the environment. */
export async function decideCommand(
  decision: 'approve' | 'reject',
  app: string,
  env: string,
  opts: { deploy?: string; comment?: string },
  g: GlobalOptions,
  io: Io,
  out: Output,
): Promise<Outcome> {
  checkNames({ app, env });
  const comment = checkReason(opts.comment, '--comment');
  if (decision === 'reject' && comment === undefined) throw new CliError('--comment: say why you reject the deploy (it goes to the deploy, Slack and the person waiting)', EXIT.badInput);
  const settings = await settingsWithoutPlan(g, io);
  const envId = envWorkflowId(app, env);
  const t = await connectTemporal(settings);
  try {
    let id = opts.deploy;
    if (id === undefined) {
      const state = await queryEnvState(t, app, env);
      if (state === undefined) throw new CliError(`no answer from ${envId}; ${NO_WORKER_HINT}`, EXIT.failed);
      const running = state?.running;
      if (running?.kind !== 'deploy' || running.gate?.phase !== 'awaiting-approval') {
        throw new CliError(`nothing to ${decision} in ${app}/${env}: no deploy is waiting for an approval${running ? ` (running: ${running.id})` : ''}`, EXIT.badInput, { id: envId, url: workflowUrl(settings, envId) });
      }
      id = running.id;
    }
    const by = triggerFromEnv(io.env).by;
    const handle = t.client.workflow.getHandle(id);
    const send =
      decision === 'approve'
        ? () => handle.executeUpdate(approveUpdate, { args: [comment !== undefined ? { by, comment } : { by }] })
        : () => handle.executeUpdate(rejectUpdate, { args: [{ by, comment: comment ?? '' }] });
    return await update(t, id, workflowUrl(settings, id), send, out, (r) => `${decision === 'approve' ? 'approved' : 'rejected'} by ${by}: ${id} (${r.message})`);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export async function cancelCommand(app: string, env: string, id: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkNames({ app, env });
  const settings = await settingsWithoutPlan(g, io);
  const envId = envWorkflowId(app, env);
  const t = await connectTemporal(settings);
  try {
    const by = triggerFromEnv(io.env).by;
    const handle = t.client.workflow.getHandle(envId);
    return await update(t, envId, workflowUrl(settings, envId), () => handle.executeUpdate(cancelUpdate, { args: [{ id, by }] }), out, (r) => `cancelled ${r.cancelled} (it was ${r.was}) by ${by}; nothing was changed`);
  } finally {
    await t.close().catch(() => undefined);
  }
}
