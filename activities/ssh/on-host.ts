// Running an activity body on a host over the worker's shared SSH connection.
import { Context } from '@temporalio/activity';
import { classify } from './classify';

const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Run an activity body on a host, heartbeating while it runs (also while it waits for a free
 * SSH session): a worker killed mid-command is noticed after the heartbeat timeout, seconds,
 * and the retry runs on another worker instead of waiting out the start-to-close timeout.
 */
export async function onHost<T>(fn: () => Promise<T>, opts?: Parameters<typeof classify>[1], details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  // Local activities (the reads, workflows/steps/activities.ts) cannot heartbeat: their workflow task is kept alive instead.
  // `details`: what a retry of the activity finds in info.heartbeatDetails (each heartbeat replaces it).
  const beat = ctx.info.isLocal ? undefined : setInterval(() => ctx.heartbeat(details?.()), HEARTBEAT_EVERY_MS);
  try {
    return await classify(fn, opts);
  } finally {
    clearInterval(beat);
  }
}
