// Client-side helpers shared by workflow and integration tests: send a request to an
// environment workflow the way the CLI does, and wait for the child it starts.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { deploySignal, rollbackSignal, stateQuery, type EnvState } from '../../workflows/api';
import { envWorkflowId, TASK_QUEUE, type DeployRequest, type RollbackRequest } from '../../workflows/plan';

export async function sendDeploy(client: Client, req: DeployRequest, taskQueue = TASK_QUEUE): Promise<void> {
  await client.workflow.signalWithStart('environmentWorkflow', {
    workflowId: envWorkflowId(req.plan.app, req.plan.env),
    taskQueue,
    args: [{ app: req.plan.app, env: req.plan.env }],
    signal: deploySignal,
    signalArgs: [req],
  });
}

export async function sendRollback(client: Client, req: RollbackRequest, taskQueue = TASK_QUEUE): Promise<void> {
  await client.workflow.signalWithStart('environmentWorkflow', {
    workflowId: envWorkflowId(req.plan.app, req.plan.env),
    taskQueue,
    args: [{ app: req.plan.app, env: req.plan.env }],
    signal: rollbackSignal,
    signalArgs: [req],
  });
}

/** Wait until a child workflow exists, then for its result (throws its failure). */
export async function childResult<T>(client: Client, workflowId: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflow.getHandle(workflowId).describe();
      return (await client.workflow.getHandle(workflowId).result()) as T;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function envState(client: Client, app: string, env: string): Promise<EnvState> {
  return client.workflow.getHandle(envWorkflowId(app, env)).query(stateQuery);
}

/** Poll the environment state until `pred` holds. */
export async function waitForState(client: Client, app: string, env: string, pred: (s: EnvState) => boolean, timeoutMs = 30_000): Promise<EnvState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await envState(client, app, env).catch(() => null);
    if (s && pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`state never matched; last: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
