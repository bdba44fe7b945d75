// The client side of an environment workflow: send it a request, ask for its state, check
// whether an operation's workflow exists. Shared by the CLI and the tests.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { canaryQuery, deploySignal, rollbackSignal, SA, stateQuery, type EnvState } from '../contract';
import type { environmentWorkflow } from '../workflows/environment';
import { envWorkflowId, TASK_QUEUE, type DeployRequest, type RollbackRequest } from '../contract';
import { GRPC, grpcCode, withQueryDeadline, type TemporalConnection } from './temporal';

/** The end of a "no answer from …" message. */
export const NO_WORKER_HINT = `is a cutover worker polling task queue "${TASK_QUEUE}"?`;

/** Signal the environment workflow, starting it if it is not running. */
async function signalEnvironment<R extends DeployRequest | RollbackRequest>(
  client: Client,
  signal: SignalDefinition<[R]>,
  request: R,
  taskQueue: string,
): Promise<void> {
  const { app, env } = request.plan;
  await client.workflow.signalWithStart<typeof environmentWorkflow, [R]>('environmentWorkflow', {
    workflowId: envWorkflowId(app, env),
    taskQueue,
    args: [{ app, env }],
    typedSearchAttributes: [
      { key: SA.app, value: app },
      { key: SA.env, value: env },
    ],
    signal,
    signalArgs: [request],
  });
}

export function sendDeploy(client: Client, request: DeployRequest, taskQueue: string = TASK_QUEUE): Promise<void> {
  return signalEnvironment(client, deploySignal, request, taskQueue);
}

export function sendRollback(client: Client, request: RollbackRequest, taskQueue: string = TASK_QUEUE): Promise<void> {
  return signalEnvironment(client, rollbackSignal, request, taskQueue);
}

export async function workflowExists(client: Client, id: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The environment's state; null if the workflow does not exist, undefined if nobody answered in time. */
export async function queryEnvState(t: TemporalConnection, app: string, env: string): Promise<EnvState | null | undefined> {
  try {
    return await withQueryDeadline(t, () => t.client.workflow.getHandle(envWorkflowId(app, env)).query(stateQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    if (grpcCode(err) === GRPC.deadlineExceeded) return undefined;
    throw err;
  }
}

/** An environment nobody has deployed to yet. */
export function emptyState(app: string, env: string): EnvState {
  return { app, env, live: null, previous: null, running: null, queue: [], scheduled: [], recent: [], rejected: [], plan: null };
}

/**
 * The state with the running canary's status asked of the canary itself: the environment's copy
 * can lag a little and leaves out the measurements. Keeps the environment's copy if it does not answer.
 */
export async function withCanaryStatus(t: TemporalConnection, state: EnvState): Promise<EnvState> {
  const running = state.running;
  if (running?.kind !== 'deploy' || running.strategy !== 'canary') return state;
  try {
    const canary = await withQueryDeadline(t, () => t.client.workflow.getHandle(running.id).query(canaryQuery));
    return { ...state, running: { ...running, canary } };
  } catch {
    return state;
  }
}
