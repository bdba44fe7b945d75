// Activity stubs of the failover and the monitor, each with the timeout and retries its step needs.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

const NON_RETRYABLE = ['UnsafeInput', 'HostKeyRejected', 'DnsConfig', 'DnsRejected', 'PageConfig', 'VultrConfig'];

/** Fencing, promotion, reads: a few tries, and a dead worker is noticed within seconds. */
export const dbOps = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Starting app servers and the smoke tests wait inside the activity and heartbeat. */
export const siteOps = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '15s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** DNS: an API briefly down is retried for a while; a rejected change is not. */
export const dnsOps = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** A probe is taken again at the next interval, never retried. */
export const probeOps = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

/** A page never fails the monitor; a few quick tries. */
export const pageOps = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1s', maximumAttempts: 4, nonRetryableErrorTypes: NON_RETRYABLE },
});
