// The blue-green runbook: start the new version in the idle colour on every host, health-check
// it, switch every router, verify through the routers. Any failure leaves the live colour
// serving. The environment workflow owns what happens afterwards (teardown, rollback).
import { patched } from '@temporalio/workflow';
import type { DeployResult } from '../../contract/api';
import { withCurrentPlan, type DeployRequest } from '../../contract/requests';
import { otherColor, type Color } from '../../contract/spec';
import { deployFailure, preflight, type Live } from '../steps/outcome';
import { beginChanges, deployApprovals, passGates, requireApproval } from '../steps/gates';
import { hostNames } from '../steps/hosts';
import { deployAudit, Journal, reasonOf } from '../steps/journal';
import { restoreTraffic, switchTraffic, verifyTraffic } from '../steps/router';
import { Saga } from '../steps/saga';
import { replaceIdleSlot, stopColour } from '../steps/slots';

export interface BlueGreenInput {
  request: DeployRequest;
}

export async function blueGreenDeploy(input: BlueGreenInput): Promise<DeployResult> {
  const request = withCurrentPlan(input.request);
  const { plan, version, deployId } = request;
  const where = `${plan.app}/${plan.env}`;
  const journal = new Journal(plan.slackChannel, deployId, deployAudit(request));
  const hosts = hostNames(plan);

  const gated = patched('deploy-gates');
  const approvals = deployApprovals(request, journal);
  if (gated) await passGates(request, journal, approvals);
  const live: Live | null = await preflight(request, journal, {
    installed: () => patched('check-version-installed'),
    announce: () => patched('announce-refusal'),
    together: () => patched('fewer-rounds'),
  });
  if (gated) await beginChanges(deployId);
  const target: Color = live ? otherColor(live.color) : 'blue';
  const from = live ? `${live.color} (${live.version ?? 'unknown version'})` : 'nothing';
  await journal.open(`:hourglass_flowing_sand: ${where}: deploying ${version} to ${target} (live: ${from}) by ${request.trigger.by}`);
  await journal.notify('started', `Deploy ${version} started: ${from} → ${target} on ${hosts.join(', ')}`);

  const saga = new Saga();
  let switched = false;
  try {
    const stopNew = saga.push(`stop ${target}`, async () => {
      journal.step('cleaning-up', `stopping ${target} on every host`);
      await stopColour(plan, target, (host) => `stop ${target} on ${host}`);
    });
    await replaceIdleSlot(plan, target, version, journal, deployId);
    if (plan.approval?.before === 'switch') await requireApproval(request, approvals, `before traffic moves to ${target}`);

    switched = true;
    if (live) {
      const back = { color: live.color, version: live.version ?? 'unknown' };
      saga.push(`switch back to ${live.color}`, async () => {
        journal.step('restoring', `switching every host back to ${live.color}`);
        await restoreTraffic(plan, back);
      });
    } else {
      // A first deploy has nothing to switch back to: stopping the new colour would leave nothing.
      stopNew.forget();
      saga.push('keep the first deploy', async () => journal.step('restoring', `first deploy: no earlier colour to switch back to; ${target} keeps running`));
    }
    await switchTraffic(plan, target, version, live?.color, journal);
    await journal.notify('switched', `Traffic switched to ${target} (${version}) on ${hosts.join(', ')}; verifying`);
    await verifyTraffic(plan, version, journal);
  } catch (err) {
    throw await deployFailure({ request, journal, saga, err, live, details: { switched, target, live } });
  }

  journal.step('live', `${version} serves all traffic on ${target}`);
  await journal.notify('done', `:white_check_mark: ${version} is live on ${target}`, `:white_check_mark: ${where}: ${version} live on ${target}`);
  return {
    deployId,
    version,
    color: target,
    hosts,
    previous: live ? { color: live.color, version: live.version ?? 'unknown' } : null,
    slackThread: journal.slackThread,
  };
}
