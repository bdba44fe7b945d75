// Builds the cutover worker. Used by the worker entry point, the demo and the tests.
import { Client } from '@temporalio/client';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { AuditStore } from '../activities/audit/store';
import { createSsh } from '../activities/ssh/client';
import { TASK_QUEUE } from '../contract/spec';
import type { WorkerTuning } from './tuning';

export interface CutoverWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  /** Defaults: SSH and Slack configured from the worker's environment. */
  deps?: Partial<ActivityDeps>;
  /** Pre-built workflow bundle (tests bundle once per file). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Cache and slot sizes (workers/tuning.ts); the SDK's defaults where not given. */
  tuning?: WorkerTuning;
}

export const workflowsPath = require.resolve('../workflows');
/**
 * Modules loaded once into the worker's shared V8 context instead of once per cached workflow:
 * zod, which the contract's schemas pull into the workflow bundle, was most of a cached
 * workflow's memory and of the CPU of every cache miss (bench/scale.ts). The SDK freezes
 * preloaded modules; workflows/zod-preload.ts readies zod for that.
 */
export const preloadModules = [require.resolve('../workflows/zod-preload')];
/** Workflow interceptors: an execution waits for its audit events before it ends. */
export const workflowInterceptorModules = [require.resolve('../workflows/interceptors')];
/** What every bundle of cutover's workflows is built with: the worker's, the build's, the tests'. */
export const workflowBundleOptions = { workflowsPath, preloadModules, workflowInterceptorModules };
/**
 * The bundle scripts/build.sh writes next to the compiled worker (dist/workflow-bundle.js); it
 * exists only beside dist/workers/, which the same build keeps current, never beside the sources.
 */
const prebuiltBundle = join(__dirname, '..', 'workflow-bundle.js');

/** Secrets come from the worker's environment, never from workflow inputs. */
export function depsFromEnv(env: NodeJS.ProcessEnv = process.env, sshSessionsPerHost?: number): ActivityDeps {
  return {
    ssh: createSsh({ env, ...(sshSessionsPerHost ? { maxSessionsPerHost: sshSessionsPerHost } : {}) }),
    slack: { token: env.SLACK_BOT_TOKEN, apiUrl: env.SLACK_API_URL },
    ...(env.DATABASE_URL ? { audit: new AuditStore(env.DATABASE_URL) } : {}),
  };
}

export interface CutoverWorker {
  worker: Worker;
  deps: ActivityDeps;
  /** Run until shutdown, then close the SSH connections and the audit database pool. */
  run(): Promise<unknown>;
}

export async function createCutoverWorker(opts: CutoverWorkerOptions): Promise<CutoverWorker> {
  const namespace = opts.namespace ?? 'default';
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  const temporal = { client: new Client({ connection: opts.connection, namespace }), taskQueue };
  const deps: ActivityDeps = { ...depsFromEnv(process.env, opts.tuning?.sshSessionsPerHost), temporal, ...opts.deps };
  const t = opts.tuning;
  const worker = await Worker.create({
    connection: opts.connection,
    namespace,
    taskQueue,
    activities: createActivities(deps),
    ...(t
      ? {
          maxCachedWorkflows: t.maxCachedWorkflows,
          maxConcurrentWorkflowTaskExecutions: t.maxConcurrentWorkflowTaskExecutions,
          maxConcurrentActivityTaskExecutions: t.maxConcurrentActivityTaskExecutions,
        }
      : {}),
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : existsSync(prebuiltBundle)
        ? { workflowBundle: { codePath: prebuiltBundle } }
        : { workflowsPath, bundlerOptions: { preloadModules }, interceptors: { workflowModules: workflowInterceptorModules } }),
  });
  return { worker, deps, run: () => worker.run().finally(() => Promise.all([deps.ssh.close(), deps.audit?.close()])) };
}
