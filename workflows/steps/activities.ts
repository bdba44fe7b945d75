// Activity stubs with a timeout and retry policy chosen per activity.
import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

const NON_RETRYABLE = ['UnsafeInput', 'HostKeyRejected'];
/**
 * When a deploy is cancelled, wait for host commands already running to end before cleaning
 * up: a stop must never overtake a start still in flight on the same slot.
 */
const WAIT = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/**
 * Host activities heartbeat while their command runs: a worker that died mid-command is
 * noticed after this long and the command retried elsewhere, not after the start-to-close.
 */
const HOST_HEARTBEAT = '10s';

/** Reading and idempotent writes: retry transient SSH trouble a few times. */
export const hostOps = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: HOST_HEARTBEAT,
  cancellationType: WAIT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Health checks loop inside the activity and heartbeat, so a dead worker is noticed quickly. */
export const healthOps = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  cancellationType: WAIT,
  heartbeatTimeout: HOST_HEARTBEAT,
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Putting traffic back where it was must not give up while a host is briefly unreachable:
 * every host has to end on the same colour.
 */
export const restoreOps = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HOST_HEARTBEAT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Notifications never fail an operation; a few quick tries, then give up. */
export const slackOps = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 4 },
});

/**
 * Measurements are taken again at the next interval, never retried: a measurement that cannot
 * be made counts as inconclusive, and the analysis's limits decide.
 */
export const analysisOps = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: HOST_HEARTBEAT,
  retry: { maximumAttempts: 1 },
});

/** Pure computations (freeze windows): local, and recorded in history so replay never recomputes them. */
export const calendarOps = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/** AWS API calls: throttling and outages retried with backoff; refusals (access denied, validation) are final. */
const AWS_NON_RETRYABLE = ['AwsAccessDenied', 'AwsRequestRejected', 'HealthCheckFailed', 'VerifyFailed', 'CodeDeployFailed', 'CodeDeployTimedOut'];
export const awsOps = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '30s',
  cancellationType: WAIT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 6, nonRetryableErrorTypes: AWS_NON_RETRYABLE },
});

/** A CodeDeploy deployment: as long as the platform's deployTimeout (the activity stops it then), heartbeating. */
export const codeDeployOps = (timeoutMs: number) =>
  proxyActivities<Activities>({
    startToCloseTimeout: timeoutMs + 120_000,
    heartbeatTimeout: '30s',
    cancellationType: WAIT,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 6, nonRetryableErrorTypes: AWS_NON_RETRYABLE },
  });

/** Putting the listener back: keep trying through throttling and outages, never past a refusal. */
export const awsRestoreOps = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: ['AwsAccessDenied', 'AwsRequestRejected'] },
});
