// `cutover promote | pause | resume | abort`: find the environment's running canary through its
// `state` query and send it the Update. The canary's validators decide what can be done now; a
// refusal comes back at once with their reason (exit 2) and changes nothing.
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { abortUpdate, envWorkflowId, pauseUpdate, promoteUpdate, resumeUpdate, type CanaryStatus } from '../contract';
import { acceptedLine, findCanary, nothingToControl, refusedLine, type CanaryAction, type CanaryRequest, type CanaryTarget } from './canary-text';
import { checkNames, settingsWithoutPlan, type GlobalOptions } from './commands';
import { NO_WORKER_HINT, queryEnvState } from './environment-client';
import { causeChain } from './format';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal, workflowUrl } from './temporal';
import { checkReason } from './text-input';
import { triggerFromEnv } from './trigger';

/** The canary handles its Updates at once; longer means no worker runs it. */
const UPDATE_TIMEOUT_MS = 10_000;

function sendUpdate(handle: WorkflowHandle, request: CanaryRequest, by: string): Promise<CanaryStatus> {
  switch (request.action) {
    case 'promote':
      return handle.executeUpdate(promoteUpdate, { args: [request.full ? { full: true, by } : { by }] });
    case 'pause':
      return handle.executeUpdate(pauseUpdate, { args: [{ by }] });
    case 'resume':
      return handle.executeUpdate(resumeUpdate, { args: [{ by }] });
    case 'abort':
      return handle.executeUpdate(abortUpdate, { args: [request.reason !== undefined ? { by, reason: request.reason } : { by }] });
  }
}

/** The reason a validator (or handler) gave for refusing an Update. */
export function refusalReason(err: WorkflowUpdateFailedError): string {
  const chain = causeChain(err.cause ?? err).filter((m) => m !== 'Workflow Update failed');
  return chain.length > 0 ? chain.join('; caused by: ') : 'refused without a reason';
}

export type SendUpdate = (request: CanaryRequest, by: string) => Promise<CanaryStatus>;

/** Send the request to the canary and say how it took it: accepted (0), refused by its validator (2). */
export async function controlCanary(
  target: CanaryTarget,
  request: CanaryRequest,
  via: { url: string; by: string; send: SendUpdate },
  out: Output,
): Promise<Outcome> {
  const { action } = request;
  const { app, env, id } = target;
  const base = { action, app, env, id, url: via.url };
  let status: CanaryStatus;
  try {
    status = await via.send(request, via.by);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = refusalReason(err);
      out.error(refusedLine(target, reason));
      out.error(via.url);
      return { exitCode: EXIT.badInput, report: { ...base, refused: true, error: reason } };
    }
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(nothingToControl(action, `${id} has already ended (see cutover status ${app} ${env})`), EXIT.badInput, base);
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      throw new CliError(`no answer from ${id} within ${UPDATE_TIMEOUT_MS / 1000}s; ${NO_WORKER_HINT}`, EXIT.failed, base);
    }
    throw err;
  }
  out.line(acceptedLine(request, target, status));
  out.line(via.url);
  return { exitCode: EXIT.ok, report: { ...base, by: via.by, canary: status } };
}

export async function canaryControlCommand(
  app: string,
  env: string,
  request: CanaryRequest,
  g: GlobalOptions,
  io: Io,
  out: Output,
): Promise<Outcome> {
  checkNames({ app, env });
  const action: CanaryAction = request.action;
  const reason = request.action === 'abort' ? checkReason(request.reason) : undefined;
  const checked: CanaryRequest = request.action === 'abort' ? { action: 'abort', ...(reason !== undefined ? { reason } : {}) } : request;
  const settings = await settingsWithoutPlan(g, io);
  const envId = envWorkflowId(app, env);
  const t = await connectTemporal(settings);
  try {
    const state = await queryEnvState(t, app, env);
    if (state === undefined) throw new CliError(`no answer from ${envId}; ${NO_WORKER_HINT}`, EXIT.failed, { id: envId, url: workflowUrl(settings, envId) });
    const found = findCanary(state, app, env);
    if ('none' in found) throw new CliError(nothingToControl(action, found.none), EXIT.badInput, { id: envId, url: workflowUrl(settings, envId) });
    const url = workflowUrl(settings, found.target.id);
    const handle = t.client.workflow.getHandle(found.target.id);
    const send: SendUpdate = (req, by) => t.connection.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () => sendUpdate(handle, req, by));
    return await controlCanary(found.target, checked, { url, by: triggerFromEnv(io.env).by, send }, out);
  } finally {
    await t.close().catch(() => undefined);
  }
}
