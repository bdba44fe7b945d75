// Activity stubs with a timeout and retry policy chosen per activity.
import { RetryState } from '@temporalio/common';
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, isCancellation, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

/**
 * Reads and checks (what a router serves, whether a version is installed, verification through
 * the routers) as local activities: they run inside the workflow task that asks for them, so
 * parallel reads on every host cost no server round trip and no workflow task per host. They
 * change nothing, so a worker lost mid-read just reads again. Workflows started before this
 * (patch `local-reads`) keep scheduling them as ordinary activities.
 */
const localReadOps = proxyLocalActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  cancellationType: WAIT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

type ReadActivities = Pick<Activities, 'readRouter' | 'checkInstalled' | 'verifyRouter'>;
type ReadOptions = { summary?: string; retry?: { maximumAttempts?: number } };
type ReadOps = { [K in keyof ReadActivities]: { executeWithOptions(options: ReadOptions, args: Parameters<ReadActivities[K]>): ReturnType<ReadActivities[K]> } };

/**
 * A failed local activity reaches the workflow as its bare cause; wrapped as an ordinary
 * activity's failure is, so refusals read it the same way (a host key or unsafe input as it is,
 * an unreachable host as EnvironmentNotDeployable) and the CLI's exit code does not change.
 */
const likeActivity =
  (type: string) =>
  (err: unknown): never => {
    if (err instanceof ActivityFailure || isCancellation(err) || !(err instanceof Error)) throw err;
    const retryState = err instanceof ApplicationFailure && err.nonRetryable ? RetryState.NON_RETRYABLE_FAILURE : RetryState.MAXIMUM_ATTEMPTS_REACHED;
    throw new ActivityFailure('Activity task failed', type, undefined, retryState, undefined, err);
  };

/** The read activities, local in workflows that have the `local-reads` patch. */
export function readOps(): ReadOps {
  if (!patched('local-reads')) return hostOps;
  return {
    readRouter: { executeWithOptions: (o, args) => localReadOps.readRouter.executeWithOptions(o, args).catch(likeActivity('readRouter')) },
    checkInstalled: { executeWithOptions: (o, args) => localReadOps.checkInstalled.executeWithOptions(o, args).catch(likeActivity('checkInstalled')) },
    verifyRouter: {
      executeWithOptions: (o, args) =>
        localReadOps.verifyRouter
          .executeWithOptions({ ...o, retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', nonRetryableErrorTypes: NON_RETRYABLE, ...o.retry } }, args)
          .catch(likeActivity('verifyRouter')),
    },
  };
}

/** Health checks loop inside the activity and heartbeat, so a dead worker is noticed quickly. */
export const healthOps = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  cancellationType: WAIT,
  heartbeatTimeout: HOST_HEARTBEAT,
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Stop + start + health-check of a slot in one activity per host (replaceSlot): as long as a
 * health check may take, heartbeating; transient SSH trouble retried as for the host commands.
 */
export const replaceOps = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HOST_HEARTBEAT,
  cancellationType: WAIT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
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

/**
 * Audit writes: PostgreSQL being down delays the record, it does not lose it. About a minute and
 * a half of retries (the pending activity shows in the UI with its attempts and last error), then
 * the journal says in the progress that events wait, and tries again every minute.
 */
export const auditOps = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8 },
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
