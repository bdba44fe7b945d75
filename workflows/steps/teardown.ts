// Stopping an old colour once nothing routes to it. Used by the teardown workflow, and inline by
// environment workflows that started before teardown became a child (patch `teardown-child`).
import { log } from '@temporalio/workflow';
import type { PreviousColor, TeardownResult } from '../../contract/api';
import type { Plan } from '../../contract/spec';
import { hostOps, readOps, slackOps } from './activities';
import { onEveryHost } from './hosts';
import { reasonOf } from './journal';

export async function teardownOps(plan: Plan, prev: PreviousColor, key: string): Promise<TeardownResult> {
  const { router, slots } = { router: plan.router, slots: plan.platform.slots };
  try {
    const routers = await onEveryHost(plan, (host) =>
      readOps().readRouter.executeWithOptions({ summary: `read nginx upstream on ${host.name}` }, [{ host, router, slots }]),
    );
    const serving = routers.filter((r) => r.color === prev.color || r.canary?.color === prev.color).map((r) => r.host);
    if (serving.length > 0) return { outcome: 'cancelled', reason: `not stopping ${prev.color}: ${serving.join(', ')} still serve it` };
    await onEveryHost(plan, (host) =>
      hostOps.stopSlot.executeWithOptions({ summary: `teardown: stop ${prev.color} (${prev.version}) on ${host.name}` }, [{ host, slots, color: prev.color }]),
    );
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
