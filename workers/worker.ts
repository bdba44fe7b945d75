// Builds the cutover worker. Used by the worker entry point, the demo and the tests.
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createSsh } from '../activities/ssh/client';
import { TASK_QUEUE } from '../contract/spec';

export interface CutoverWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Defaults: SSH and Slack configured from the worker's environment. */
  deps?: Partial<ActivityDeps>;
  /** Pre-built workflow bundle (tests bundle once per file). */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export const workflowsPath = require.resolve('../workflows');

/** Secrets come from the worker's environment, never from workflow inputs. */
export function depsFromEnv(env: NodeJS.ProcessEnv = process.env): ActivityDeps {
  return {
    ssh: createSsh({ env }),
    slack: { token: env.SLACK_BOT_TOKEN, apiUrl: env.SLACK_API_URL },
  };
}

export interface CutoverWorker {
  worker: Worker;
  /** Run until shutdown, then close the SSH connections. */
  run(): Promise<void>;
}

export async function createCutoverWorker(opts: CutoverWorkerOptions): Promise<CutoverWorker> {
  const namespace = opts.namespace ?? 'default';
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const temporal = { client: new Client({ connection: opts.connection, namespace }), taskQueue };
  const deps: ActivityDeps = { ...depsFromEnv(), temporal, ...opts.deps };
  const worker = await Worker.create({
    connection: opts.connection,
    namespace,
    taskQueue,
    activities: createActivities(deps),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
  });
  return { worker, run: () => worker.run().finally(() => deps.ssh.close()) };
}
