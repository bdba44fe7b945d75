// Acting on every host of a plan at once.
import { ApplicationFailure } from '@temporalio/workflow';
import { isAwsPlan, isSshPlan, type SshPlan } from '../../contract/plan-kinds';
import type { HostSpec, Plan } from '../../contract/spec';

/** The ssh+nginx shape of a plan, for the steps that only exist there. */
export function sshOnly(plan: Plan): SshPlan {
  if (isSshPlan(plan)) return plan;
  throw ApplicationFailure.create({ type: 'UnsupportedPlan', nonRetryable: true, message: `this step needs ssh hosts behind nginx; ${plan.app}/${plan.env} uses ${plan.platform.kind}+${plan.router.kind}` });
}

/**
 * Run `fn` on every host in parallel and wait until all have finished, then fail with the first
 * failure. Unlike Promise.all, nothing is still running on some host when the caller starts to
 * clean up after a failure on another.
 */
export async function onEveryHost<T>(plan: Plan, fn: (host: HostSpec) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(sshOnly(plan).platform.hosts.map(fn));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Where a plan runs, in words: its hosts, or the CodeDeploy application on AWS. */
export const hostNames = (plan: Plan): string[] =>
  isAwsPlan(plan) ? [`${plan.platform.application} (${plan.platform.region})`] : sshOnly(plan).platform.hosts.map((h) => h.name);
