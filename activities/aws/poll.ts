// Polling AWS for something to finish (a CodeDeploy deployment, a target group's health).
/** The first wait before asking again how a deployment (or a target group) is doing. */
export const FIRST_POLL_MS = 50;

/**
 * How long to wait before the `n`-th next poll (n from 0): 50 ms doubling up to `intervalMs`.
 * A deployment or a health check that is done quickly is seen quickly; a long one is asked at
 * the configured interval after a few seconds (with 5 s: 7 extra calls in the first 6.4 s).
 */
export function pollDelay(n: number, intervalMs: number): number {
  return Math.min(intervalMs, FIRST_POLL_MS * 2 ** Math.min(n, 20));
}
