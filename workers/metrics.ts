// The worker's Prometheus endpoint: the SDK's runtime metrics (task slots, schedule-to-start
// latencies, sticky cache, polls, requests) and cutover's own (contract/metrics.ts), which
// workflows emit through their metric meter, on one address. Off unless CUTOVER_METRICS_ADDRESS
// is set. The SDK's Runtime is installed once per process, so this runs before anything else
// touches it.
import { Runtime } from '@temporalio/worker';
import { ConfigError } from '../config/load';
import { DEPLOY_DURATION_BUCKETS, METRIC } from '../contract/metrics';

export const METRICS_ADDRESS_VAR = 'CUTOVER_METRICS_ADDRESS';

/** `host:port`, or undefined when metrics are off. Throws ConfigError for anything else. */
export function metricsAddress(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env[METRICS_ADDRESS_VAR]?.trim();
  if (!raw) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new ConfigError('environment', [{ path: METRICS_ADDRESS_VAR, message: `expected host:port to listen on, like 127.0.0.1:9464, got ${JSON.stringify(raw)}` }]);
  }
  return raw;
}

/** Install the SDK runtime with a Prometheus exporter on `address` (serves /metrics). */
export function installMetrics(address: string): void {
  try {
    Runtime.install({
      telemetryOptions: {
        metrics: {
          prometheus: {
            bindAddress: address,
            histogramBucketOverrides: { [METRIC.deployDuration]: [...DEPLOY_DURATION_BUCKETS] },
          },
        },
      },
    });
  } catch (err) {
    throw new ConfigError('environment', [
      { path: METRICS_ADDRESS_VAR, message: `cannot serve metrics on ${address}: ${err instanceof Error ? err.message : String(err)}` },
    ]);
  }
}
