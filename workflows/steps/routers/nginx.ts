// The router steps on nginx, on every host: read what it serves (the hosts are the truth),
// switch it, give a canary a share, put traffic back, verify through it.
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE } from '../../../contract/failures';
import type { SshPlan } from '../../../contract/plan-kinds';
import type { Color } from '../../../contract/spec';
import { hostOps, readOps, restoreOps } from '../activities';
import { onEveryHost } from '../hosts';
import type { Journal } from '../journal';
import type { Live } from '../outcome';

const routerInput = (plan: SshPlan) => ({ router: plan.router, slots: plan.platform.slots });

/** Ask every router what it serves; refuse if they disagree. */
export async function readLiveColour(plan: SshPlan): Promise<Live | null> {
  const states = await onEveryHost(plan, (host) =>
    readOps().readRouter.executeWithOptions({ summary: `read nginx upstream on ${host.name}` }, [{ host, ...routerInput(plan) }]),
  );
  const describe = (s: (typeof states)[number]): string =>
    `${s.color ?? 'nothing'}${s.version ? ` (${s.version})` : ''}${s.canary ? ` with ${s.canary.weight}% to ${s.canary.color}` : ''}`;
  const colours = new Set(states.map((s) => `${s.color ?? 'none'}|${s.canary ? `${s.canary.color}@${s.canary.weight}` : ''}`));
  if (colours.size > 1) {
    throw ApplicationFailure.create({
      type: FAILURE.hostsDisagree,
      nonRetryable: true,
      message: `hosts disagree on the live colour: ${states.map((s) => `${s.host} serves ${describe(s)}`).join(', ')}; make them agree (or roll back) before deploying`,
    });
  }
  const first = states[0];
  return first?.color ? { color: first.color, version: first.version } : null;
}

/**
 * One host after the other, so a refused config stops the switch before it spreads. The live
 * colour stays in each upstream as nginx's backup, so no request fails if the new one crashes
 * before verification switches back.
 */
export async function switchTraffic(plan: SshPlan, color: Color, version: string, backup: Color | undefined, journal: Journal): Promise<void> {
  for (const host of plan.platform.hosts) {
    journal.step('switching', `switching nginx on ${host.name} to ${color} (${version})`);
    await hostOps.switchRouter.executeWithOptions({ summary: `switch nginx on ${host.name} to ${color}` }, [
      { host, ...routerInput(plan), color, version, ...(backup ? { backup } : {}) },
    ]);
  }
}

/** Give the canary `weight` percent on every host, one host after the other (a refused config stops there). */
export async function shiftTraffic(plan: SshPlan, stable: { color: Color; version: string }, canary: { color: Color; version: string }, weight: number): Promise<void> {
  for (const host of plan.platform.hosts) {
    await hostOps.switchRouter.executeWithOptions({ summary: `nginx on ${host.name}: ${weight}% to ${canary.color} (${canary.version})` }, [
      { host, ...routerInput(plan), color: stable.color, version: stable.version, canary: { ...canary, weight } },
    ]);
  }
}

/** Every host back to `to` at once, retrying until each has: the emergency path. */
export async function restoreTraffic(plan: SshPlan, to: { color: Color; version: string }, summary = (host: string) => `switch nginx on ${host} back to ${to.color}`): Promise<void> {
  await onEveryHost(plan, (host) =>
    restoreOps.switchRouter.executeWithOptions({ summary: summary(host.name) }, [{ host, ...routerInput(plan), color: to.color, version: to.version }]),
  );
}

export async function verifyTraffic(plan: SshPlan, version: string, journal: Journal): Promise<void> {
  journal.step('verifying', `checking that ${plan.verify.requests} answers in a row through each router come from ${version}`);
  await onEveryHost(plan, (host) =>
    readOps().verifyRouter.executeWithOptions({ retry: { maximumAttempts: 2 }, summary: `verify ${version} through nginx on ${host.name}` }, [
      { host, ...routerInput(plan), version, verify: plan.verify, timeoutMs: plan.health.timeoutMs * 4 },
    ]),
  );
}
