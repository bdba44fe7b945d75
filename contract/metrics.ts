// The names of cutover's own metrics (emitted by workflows/steps/metrics.ts, exported by the
// worker on CUTOVER_METRICS_ADDRESS); the README's "Metrics" section documents each.
export const METRIC = {
  deploys: 'cutover_deploys_total',
  deployDuration: 'cutover_deploy_duration_seconds',
  rollbacks: 'cutover_rollbacks_total',
  teardowns: 'cutover_teardowns_total',
  refusals: 'cutover_refusals_total',
} as const;

/** Deploy duration buckets, in seconds: from a quick blue-green to a slow canary. */
export const DEPLOY_DURATION_BUCKETS: readonly number[] = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];
