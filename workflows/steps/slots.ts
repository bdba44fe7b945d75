// The platform seam: check a version is there, empty the idle colour, put a version in it,
// health-check it, stop a colour. On ssh hosts these act on the slots of every host; on AWS
// (platforms/codedeploy.ts) CodeDeploy and the target groups do.
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { FAILURE } from '../../contract/failures';
import { isAwsPlan } from '../../contract/plan-kinds';
import type { Color, Plan } from '../../contract/spec';
import { healthOps, hostOps, readOps, replaceOps, restoreOps } from './activities';
import { onEveryHost, sshOnly } from './hosts';
import * as codedeploy from './platforms/codedeploy';
import type { Journal } from './journal';

/** Before anything changes: a version missing on any host is refused as bad input. */
export async function checkVersionInstalled(plan: Plan, version: string, journal: Journal): Promise<void> {
  if (isAwsPlan(plan)) return;
  journal.step('checking', `checking that ${version} is installed on every host`);
  const { slots } = sshOnly(plan).platform;
  const results = await onEveryHost(plan, (host) =>
    readOps().checkInstalled.executeWithOptions({ summary: `is ${version} installed on ${host.name}` }, [{ host, slots, version }]),
  );
  const missing = results.filter((r) => !r.installed);
  if (missing.length > 0) {
    throw ApplicationFailure.create({
      type: FAILURE.versionNotInstalled,
      nonRetryable: true,
      message: `version ${version} is not installed on ${missing.map((m) => `${m.host} (slots.installed: ${m.detail})`).join(', ')}; nothing was changed. Install ${version} on every host first, or deploy a version that exists`,
    });
  }
}

async function prepareIdleSlot(plan: Plan, color: Color, journal: Journal): Promise<void> {
  if (isAwsPlan(plan)) return codedeploy.prepareIdleColour(plan, color, journal);
  const { slots } = sshOnly(plan).platform;
  journal.step('preparing', `stopping whatever runs in ${color} on every host`);
  await onEveryHost(plan, (host) =>
    hostOps.stopSlot.executeWithOptions({ summary: `stop ${color} on ${host.name}` }, [{ host, slots, color }]),
  );
}

/** `deployId` names the CodeDeploy deployment on AWS. */
async function startNewVersion(plan: Plan, color: Color, version: string, journal: Journal, deployId = ''): Promise<void> {
  if (isAwsPlan(plan)) return codedeploy.deployNewVersion(plan, color, version, deployId, journal);
  const { slots } = sshOnly(plan).platform;
  journal.step('starting', `starting ${version} in ${color} on every host`);
  await onEveryHost(plan, (host) =>
    hostOps.startSlot.executeWithOptions({ summary: `start ${version} in ${color} on ${host.name}` }, [
      { host, slots, color, version },
    ]),
  );
}

async function healthCheckNewVersion(plan: Plan, color: Color, version: string, journal: Journal): Promise<void> {
  if (isAwsPlan(plan)) return codedeploy.waitTargetsHealthy(plan, color, version, journal);
  const { slots } = sshOnly(plan).platform;
  const h = plan.health;
  journal.step('health-check', `checking ${color} (${version}) on every host: ${h.path} must answer ${h.expectStatus} under ${h.timeoutMs} ms, up to ${h.attempts} tries`);
  await onEveryHost(plan, (host) =>
    healthOps.checkHealth.executeWithOptions({ summary: `health-check ${color} on ${host.name}` }, [
      { host, slots, color, version, health: h },
    ]),
  );
}

/**
 * prepareIdleSlot, startNewVersion and healthCheckNewVersion in one round: one replaceSlot
 * activity per host does the three steps, so the deploy waits for one activity round instead
 * of three. The progress lines of the three steps are said as the round begins. Histories
 * from before patch `fewer-rounds` (and AWS plans) take the three steps one by one.
 */
export async function replaceIdleSlot(plan: Plan, color: Color, version: string, journal: Journal, deployId = ''): Promise<void> {
  // patched() first on every path, so AWS runs record the marker as they always have.
  if (!patched('fewer-rounds') || isAwsPlan(plan)) {
    await prepareIdleSlot(plan, color, journal);
    await startNewVersion(plan, color, version, journal, deployId);
    return healthCheckNewVersion(plan, color, version, journal);
  }
  const { slots } = sshOnly(plan).platform;
  const h = plan.health;
  journal.step('preparing', `stopping whatever runs in ${color} on every host`);
  journal.step('starting', `starting ${version} in ${color} on every host`);
  journal.step('health-check', `checking ${color} (${version}) on every host: ${h.path} must answer ${h.expectStatus} under ${h.timeoutMs} ms, up to ${h.attempts} tries`);
  await onEveryHost(plan, (host) =>
    replaceOps.replaceSlot.executeWithOptions({ summary: `stop ${color}, start ${version} in it and health-check it on ${host.name}` }, [
      { host, slots, color, version, health: h },
    ]),
  );
}

/** Stop a colour on every host, retrying until every host has (cleanup must not give up). On AWS the group stays as it is. */
export async function stopColour(plan: Plan, color: Color, summary: (host: string) => string): Promise<void> {
  if (isAwsPlan(plan)) return;
  const { slots } = sshOnly(plan).platform;
  await onEveryHost(plan, (host) =>
    restoreOps.stopSlot.executeWithOptions({ summary: summary(host.name) }, [{ host, slots, color }]),
  );
}
