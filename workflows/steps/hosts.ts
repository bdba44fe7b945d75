// Acting on every host of a plan at once.
import type { HostSpec, Plan } from '../../contract/spec';

/**
 * Run `fn` on every host in parallel and wait until all have finished, then fail with the first
 * failure. Unlike Promise.all, nothing is still running on some host when the caller starts to
 * clean up after a failure on another.
 */
export async function onEveryHost<T>(plan: Plan, fn: (host: HostSpec) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(plan.platform.hosts.map(fn));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export const hostNames = (plan: Plan): string[] => plan.platform.hosts.map((h) => h.name);
