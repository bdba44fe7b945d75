// Client-side helpers shared by workflow and integration tests: send a request to an
// environment workflow with the CLI's own functions, and wait for the child it starts.
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { stateQuery, type EnvState } from '../../contract';
import { envWorkflowId } from '../../contract';

export { sendDeploy, sendRollback } from '../../starters/environment-client';

/** Wait until a child workflow exists, then for its result (throws its failure). */
export async function childResult<T>(client: Client, workflowId: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflow.getHandle(workflowId).describe();
      return (await client.workflow.getHandle(workflowId).result()) as T;
    } catch (err) {
      if (err instanceof WorkflowFailedError) throw new Error(`${workflowId} failed: ${causes(err)}`, { cause: err });
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

/** Every message down a failure's cause chain, joined: what a test asserts on. */
export function causes(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) parts.push(e.message);
  return parts.join(' <- ');
}
