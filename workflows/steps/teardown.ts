// Stopping an old colour once nothing routes to it. Used by the teardown workflow, and inline by
// environment workflows that started before teardown became a child (patch `teardown-child`).
import { log } from '@temporalio/workflow';
import type { PreviousColor, TeardownResult } from '../../contract/api';
import { isAwsPlan, type AwsPlan } from '../../contract/plan-kinds';
import type { Plan } from '../../contract/spec';
import { awsOps, hostOps, readOps, slackOps } from './activities';
import { onEveryHost, sshOnly } from './hosts';
import { reasonOf } from './journal';

export async function teardownOps(plan: Plan, prev: PreviousColor, key: string): Promise<TeardownResult> {
  try {
    if (isAwsPlan(plan)) {
      const still = await oldGroupServes(plan, prev);
      if (still) return { outcome: 'cancelled', reason: still };
    } else {
      const {
        router,
        platform: { slots },
      } = sshOnly(plan);
      const routers = await onEveryHost(plan, (host) =>
        readOps().readRouter.executeWithOptions({ summary: `read nginx upstream on ${host.name}` }, [{ host, router, slots }]),
      );
      const serving = routers.filter((r) => r.color === prev.color || r.canary?.color === prev.color).map((r) => r.host);
      if (serving.length > 0) return { outcome: 'cancelled', reason: `not stopping ${prev.color}: ${serving.join(', ')} still serve it` };
      await onEveryHost(plan, (host) =>
        hostOps.stopSlot.executeWithOptions({ summary: `teardown: stop ${prev.color} (${prev.version}) on ${host.name}` }, [{ host, slots, color: prev.color }]),
      );
    }
  } catch (err) {
    return { outcome: 'failed', reason: reasonOf(err) };
  }
  if (plan.slackChannel && prev.slackThread) {
    await slackOps
      .slackPost({ channel: plan.slackChannel, threadTs: prev.slackThread, text: `Old colour ${prev.color} (${prev.version}) stopped; rollback window closed`, key })
      .catch((err: unknown) => log.warn('slack notification failed', { error: String(err) }));
  }
  return { outcome: 'succeeded' };
}

/**
 * On AWS nothing is stopped: the old group stays registered at weight 0 and CodeDeploy replaces
 * its version on the next deploy. The window closes unless the listener still sends it traffic.
 */
async function oldGroupServes(plan: AwsPlan, prev: PreviousColor): Promise<string | undefined> {
  const l = await awsOps.albReadListener.executeWithOptions({ summary: 'read the ALB listener' }, [{ region: plan.platform.region, router: plan.router }]);
  if (l.state === 'drifted') return `not closing the window of ${prev.color}: the listener is not as cutover left it (${l.problem})`;
  if (l.color === prev.color || l.canary?.color === prev.color) return `not closing the window of ${prev.color}: the ALB listener still sends it traffic`;
  return undefined;
}
