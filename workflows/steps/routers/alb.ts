// The router steps on an Application Load Balancer: the listener is the truth. Its weights are
// read and judged against what cutover last noted on it (refused when they differ), set in one
// ModifyListener call per move, and verified by requests through the load balancer.
import { ApplicationFailure } from '@temporalio/workflow';
import type { AwsPlan } from '../../../contract/plan-kinds';
import { FAILURE } from '../../../contract/failures';
import type { Color } from '../../../contract/spec';
import { awsOps, awsRestoreOps } from '../activities';
import type { Journal } from '../journal';
import type { Live } from '../outcome';

const listener = (plan: AwsPlan) => ({ region: plan.platform.region, router: plan.router });
const allTo = (color: Color) => (color === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 });

export async function readLiveColour(plan: AwsPlan): Promise<Live | null> {
  const state = await awsOps.albReadListener.executeWithOptions({ summary: 'read the ALB listener' }, [listener(plan)]);
  if (state.state === 'drifted') {
    throw ApplicationFailure.create({
      type: FAILURE.hostsDisagree,
      nonRetryable: true,
      message: `the ALB listener ${plan.router.listenerArn} is not as cutover left it: ${state.problem}; cutover will not guess which colour is live. Put the listener back as cutover set it (or set it deliberately and note it with the cutover:weights tag), then deploy again`,
    });
  }
  return { color: state.color, version: state.version };
}

export async function switchTraffic(plan: AwsPlan, color: Color, version: string, _backup: Color | undefined, journal: Journal): Promise<void> {
  journal.step('switching', `switching the ALB listener to ${color} (${version}), the other group kept registered at weight 0`);
  await awsOps.albSetWeights.executeWithOptions({ summary: `ALB listener: 100% to ${color}` }, [{ ...listener(plan), weights: allTo(color), versions: { [color]: version } }]);
}

export async function shiftTraffic(plan: AwsPlan, stable: { color: Color; version: string }, canary: { color: Color; version: string }, weight: number): Promise<void> {
  const weights = stable.color === 'blue' ? { blue: 100 - weight, green: weight } : { blue: weight, green: 100 - weight };
  await awsOps.albSetWeights.executeWithOptions({ summary: `ALB listener: ${weight}% to ${canary.color} (${canary.version})` }, [
    { ...listener(plan), weights, versions: { [stable.color]: stable.version, [canary.color]: canary.version } },
  ]);
}

/** The emergency path: the listener back to `to` in one call, retried through throttling and outages. */
export async function restoreTraffic(plan: AwsPlan, to: { color: Color; version: string }): Promise<void> {
  await awsRestoreOps.albSetWeights.executeWithOptions({ summary: `ALB listener back to ${to.color}` }, [{ ...listener(plan), weights: allTo(to.color), versions: { [to.color]: to.version } }]);
}

export async function verifyTraffic(plan: AwsPlan, version: string, journal: Journal): Promise<void> {
  journal.step('verifying', `checking that ${plan.verify.requests} answers in a row through the load balancer come from ${version}`);
  await awsOps.albVerify.executeWithOptions({ retry: { maximumAttempts: 2 }, summary: `verify ${version} through the ALB` }, [
    { url: plan.router.url, version, verify: plan.verify, timeoutMs: plan.health.timeoutMs * 4 },
  ]);
}
