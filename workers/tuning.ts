// How much one worker process holds and runs at once, from its environment. The defaults keep a
// worker under 1 GiB RSS with 1,000 environments deploying at once (bench/scale.ts measures it;
// bench/README.md has the figures).
import { z } from 'zod';

const count = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name}: expected a whole number, e.g. ${name}=${min === 0 ? 100 : min * 10}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name}: must be from ${min} to ${max}`);

/** The worker's tuning variables; each is optional. */
export const workerTuningEnvSchema = z.object({
  /**
   * Workflows kept in the worker's sticky cache (least recently used evicted first). A workflow
   * pushed out is replayed from its history at its next task, so the cache should hold every
   * workflow that is actively deploying: with 1,000 environments deploying at once, 1,000 deploy
   * workflows (the environment workflows wait on their child and are evicted first). A cached
   * workflow costs at most ~0.5 MB now that zod is shared (workers/worker.ts, preloadModules); a
   * cache smaller than the active set thrashes: every task then replays its workflow. The SDK's
   * default is sized from the V8 heap limit (about 2,300 on a 24 GiB machine).
   */
  CUTOVER_MAX_CACHED_WORKFLOWS: count('CUTOVER_MAX_CACHED_WORKFLOWS', 2, 100_000).default(1200),
  /** Workflow tasks run at once (SDK default 40); at most CUTOVER_MAX_CACHED_WORKFLOWS. */
  CUTOVER_MAX_WORKFLOW_TASKS: count('CUTOVER_MAX_WORKFLOW_TASKS', 2, 1_000).default(40),
  /** Activities run at once (SDK default 100). Most of them wait on SSH or HTTP. */
  CUTOVER_MAX_ACTIVITIES: count('CUTOVER_MAX_ACTIVITIES', 1, 10_000).default(100),
  /** Commands at once on one host's shared SSH connection; stay below sshd's MaxSessions (10). */
  CUTOVER_SSH_SESSIONS_PER_HOST: count('CUTOVER_SSH_SESSIONS_PER_HOST', 1, 1_000).default(8),
});

export interface WorkerTuning {
  maxCachedWorkflows: number;
  maxConcurrentWorkflowTaskExecutions: number;
  maxConcurrentActivityTaskExecutions: number;
  sshSessionsPerHost: number;
}

export class WorkerTuningError extends Error {}

export function workerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const r = workerTuningEnvSchema.safeParse(Object.fromEntries(Object.keys(workerTuningEnvSchema.shape).flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]]))));
  if (!r.success) throw new WorkerTuningError(r.error.issues.map((i) => i.message).join('\n'));
  const e = r.data;
  if (e.CUTOVER_MAX_WORKFLOW_TASKS > e.CUTOVER_MAX_CACHED_WORKFLOWS) {
    throw new WorkerTuningError(
      `CUTOVER_MAX_WORKFLOW_TASKS (${e.CUTOVER_MAX_WORKFLOW_TASKS}) must not exceed CUTOVER_MAX_CACHED_WORKFLOWS (${e.CUTOVER_MAX_CACHED_WORKFLOWS}): every running workflow task holds a cached workflow`,
    );
  }
  return {
    maxCachedWorkflows: e.CUTOVER_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskExecutions: e.CUTOVER_MAX_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: e.CUTOVER_MAX_ACTIVITIES,
    sshSessionsPerHost: e.CUTOVER_SSH_SESSIONS_PER_HOST,
  };
}
