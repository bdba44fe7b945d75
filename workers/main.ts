// Worker entry point: `npm run worker`. Connects to TEMPORAL_ADDRESS (default 127.0.0.1:7233),
// polls task queue `cutover`, and shuts down gracefully on SIGINT/SIGTERM (the SDK's runtime
// installs those handlers: running activities are given time to finish).
import { NativeConnection } from '@temporalio/worker';
import { workerTuningFromEnv, WorkerTuningError } from './tuning';
import { createCutoverWorker } from './worker';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const tuning = workerTuningFromEnv();
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createCutoverWorker({ connection, namespace, tuning });
    const o = worker.worker.options;
    console.log(
      `cutover worker polling task queue ${o.taskQueue} on ${address} (${namespace}); pid ${process.pid}, ` +
        `cache ${o.maxCachedWorkflows} workflows, ${tuning.maxConcurrentWorkflowTaskExecutions} workflow tasks, ` +
        `${tuning.maxConcurrentActivityTaskExecutions} activities, ${tuning.sshSessionsPerHost} SSH sessions per host`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof WorkerTuningError) {
    console.error(`cutover worker: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
