// Worker entry point: `npm run worker`. Finds Temporal as the CLI does (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, a TEMPORAL_PROFILE of the Temporal config
// file; see config/temporal.ts), polls task queue `cutover`, and shuts down gracefully on
// SIGINT/SIGTERM (the SDK's runtime installs those handlers: running activities are given time
// to finish). With CUTOVER_METRICS_ADDRESS (e.g. 127.0.0.1:9464) it serves Prometheus metrics
// there (workers/metrics.ts). Exit 2: bad settings; 3: Temporal cannot be reached or refused us.
import { NativeConnection } from '@temporalio/worker';
import { ConfigError } from '../config/load';
import { connectOptions, describeConnection, resolveTemporal, type TemporalSettings } from '../config/temporal';
import { explainConnectError } from '../config/temporal-errors';
import { probe, ProbeFailure, splitAddress } from '../config/temporal-probe';
import { installMetrics, metricsAddress } from './metrics';
import { workerTuningFromEnv, WorkerTuningError } from './tuning';
import { AuditSettingsError, prepareAuditLog, retentionDaysFromEnv } from './audit';
import { createCutoverWorker } from './worker';

class ExitError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

async function connect(settings: TemporalSettings): Promise<NativeConnection> {
  const opts = connectOptions(settings);
  const target = splitAddress(settings.address);
  const fail = (raw: string): ExitError => {
    const why = explainConnectError(raw, settings);
    return new ExitError(`cannot connect to Temporal at ${describeConnection(settings)}: ${why ? `${why} (${raw})` : raw}`, 3);
  };
  if (!target) throw new ExitError(`TEMPORAL_ADDRESS: ${JSON.stringify(settings.address)} must look like host:port`, 2);
  try {
    await probe(target.host, target.port, opts, 5000);
  } catch (err) {
    throw fail(err instanceof ProbeFailure ? err.message : String(err));
  }
  try {
    return await NativeConnection.connect(opts);
  } catch (err) {
    throw fail(err instanceof Error ? err.message : String(err));
  }
}

async function main(): Promise<void> {
  const metrics = metricsAddress(process.env);
  const tuning = workerTuningFromEnv();
  const retentionDays = retentionDaysFromEnv(process.env);
  const settings = await resolveTemporal({ env: process.env });
  if (metrics) installMetrics(metrics);
  const connection = await connect(settings);
  try {
    const worker = await createCutoverWorker({ connection, namespace: settings.namespace, tuning });
    const o = worker.worker.options;
    console.log(
      `cutover worker polling task queue ${o.taskQueue} on ${describeConnection(settings)}; pid ${process.pid}, ` +
        `cache ${o.maxCachedWorkflows} workflows, ${tuning.maxConcurrentWorkflowTaskExecutions} workflow tasks, ` +
        `${tuning.maxConcurrentActivityTaskExecutions} activities, ${tuning.sshSessionsPerHost} SSH sessions per host`,
    );
    if (metrics) console.log(`metrics: http://${metrics}/metrics`);
    const store = worker.deps.audit;
    if (store) await prepareAuditLog({ store, connection, namespace: settings.namespace, taskQueue: o.taskQueue, retentionDays, log: (l) => console.log(l) });
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof WorkerTuningError || err instanceof AuditSettingsError) {
    console.error(`cutover worker: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof ConfigError) {
    console.error(err.format());
    process.exit(2);
  }
  if (err instanceof ExitError) {
    console.error(err.message);
    process.exit(err.code);
  }
  console.error(err);
  process.exit(1);
});
