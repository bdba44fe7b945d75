// The blue-green runbook: start the new version in the idle colour on every host, health-check
// it, switch every router, verify through the routers. Any failure leaves the live colour
// serving. The environment workflow owns what happens afterwards (teardown, rollback).
import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { FAILURE, type DeployResult } from './api';
import { healthOps, hostOps, restoreOps } from './activities';
import { onEveryHost } from './hosts';
import { Journal, reasonOf } from './journal';
import { otherColor, type Color, type DeployRequest, type Plan } from './plan';

export interface BlueGreenInput {
  request: DeployRequest;
}

interface Live {
  color: Color;
  version: string | null;
}

export async function blueGreenDeploy({ request }: BlueGreenInput): Promise<DeployResult> {
  const { plan, version, deployId } = request;
  const where = `${plan.app}/${plan.env}`;
  const journal = new Journal(plan.slackChannel, deployId);
  const hosts = plan.hosts.map((h) => h.name);

  journal.step('reading', `reading which colour each of ${hosts.length} host(s) serves`);
  let live: Live | null;
  try {
    live = await readLiveColour(plan);
    if (patched('check-version-installed') && plan.slots.installed) await checkVersionInstalled(plan, version, journal);
  } catch (err) {
    // Refused before anything changed (hosts unreachable or disagreeing, version missing): say so in Slack too.
    if (!isCancellation(err) && patched('announce-refusal')) {
      const why = reasonOf(err);
      const refusal = why.includes('nothing was changed') ? why : `${why}; nothing was changed`;
      journal.step('refused', `deploy refused: ${refusal}`);
      await journal.open(`:no_entry: ${where}: deploy of ${version} by ${request.trigger.by} refused: ${refusal}`);
    }
    throw err;
  }
  const target: Color = live ? otherColor(live.color) : 'blue';
  const from = live ? `${live.color} (${live.version ?? 'unknown version'})` : 'nothing';
  await journal.open(`:hourglass_flowing_sand: ${where}: deploying ${version} to ${target} (live: ${from}) by ${request.trigger.by}`);
  await journal.notify('started', `Deploy ${version} started: ${from} → ${target} on ${hosts.join(', ')}`);

  let switched = false;
  try {
    await prepareIdleSlot(plan, target, journal);
    await startNewVersion(plan, target, version, journal);
    await healthCheckNewVersion(plan, target, version, journal);

    switched = true;
    await switchTraffic(plan, target, version, live?.color, journal);
    await journal.notify('switched', `Traffic switched to ${target} (${version}) on ${hosts.join(', ')}; verifying`);
    await verifyTraffic(plan, version, journal);
  } catch (err) {
    const reason = reasonOf(err);
    const cancelled = isCancellation(err);
    let kept = live ? `${live.color} (${live.version ?? '?'}) still serving` : 'nothing was serving before';
    try {
      await CancellationScope.nonCancellable(() => undo(plan, { target, live, switched }, journal));
    } catch (undoErr) {
      kept = `CLEANUP FAILED, check the hosts: ${reasonOf(undoErr)}`;
    }
    const what = cancelled ? 'cancelled' : 'failed';
    journal.step(cancelled ? 'cancelled' : 'failed', `deploy ${what}: ${reason}; ${kept}`);
    await CancellationScope.nonCancellable(() =>
      journal.notify(
        switched ? 'rolled-back' : 'failed',
        `:x: deploy ${what} - rolled back: ${reason}. ${kept}.`,
        `:x: ${where}: deploy of ${version} ${what} - rolled back; ${kept}`,
      ),
    );
    if (cancelled) throw err;
    throw ApplicationFailure.create({
      type: FAILURE.deployFailed,
      message: `deploy of ${version} to ${where} failed - rolled back: ${reason}`,
      nonRetryable: true,
      details: [{ switched, target, live }],
    });
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

/** The hosts are the truth: ask every router what it serves; refuse if they disagree. */
export async function readLiveColour(plan: Plan): Promise<Live | null> {
  const states = await onEveryHost(plan, (host) =>
    hostOps.readRouter.executeWithOptions({ summary: `read nginx upstream on ${host.name}` }, [{ host, router: plan.router, slots: plan.slots }]),
  );
  const colours = new Set(states.map((s) => s.color ?? 'none'));
  if (colours.size > 1) {
    throw ApplicationFailure.create({
      type: FAILURE.hostsDisagree,
      nonRetryable: true,
      message: `hosts disagree on the live colour: ${states.map((s) => `${s.host} serves ${s.color ?? 'nothing'}${s.version ? ` (${s.version})` : ''}`).join(', ')}; make them agree (or roll back) before deploying`,
    });
  }
  const first = states[0];
  return first?.color ? { color: first.color, version: first.version } : null;
}

/** Before anything changes: a version missing on any host is refused as bad input. */
async function checkVersionInstalled(plan: Plan, version: string, journal: Journal): Promise<void> {
  journal.step('checking', `checking that ${version} is installed on every host`);
  const results = await onEveryHost(plan, (host) =>
    hostOps.checkInstalled.executeWithOptions({ summary: `is ${version} installed on ${host.name}` }, [{ host, slots: plan.slots, version }]),
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
  journal.step('preparing', `stopping whatever runs in ${color} on every host`);
  await onEveryHost(plan, (host) =>
    hostOps.stopSlot.executeWithOptions({ summary: `stop ${color} on ${host.name}` }, [{ host, slots: plan.slots, color }]),
  );
}

async function startNewVersion(plan: Plan, color: Color, version: string, journal: Journal): Promise<void> {
  journal.step('starting', `starting ${version} in ${color} on every host`);
  await onEveryHost(plan, (host) =>
    hostOps.startSlot.executeWithOptions({ summary: `start ${version} in ${color} on ${host.name}` }, [
      { host, slots: plan.slots, color, version },
    ]),
  );
}

async function healthCheckNewVersion(plan: Plan, color: Color, version: string, journal: Journal): Promise<void> {
  const h = plan.health;
  journal.step('health-check', `checking ${color} (${version}) on every host: ${h.path} must answer ${h.expectStatus} under ${h.timeoutMs} ms, up to ${h.attempts} tries`);
  await onEveryHost(plan, (host) =>
    healthOps.checkHealth.executeWithOptions(
      { summary: `health-check ${color} on ${host.name}` },
      [{ host, slots: plan.slots, color, version, health: h }],
    ),
  );
}

/**
 * One host after the other, so a refused config stops the switch before it spreads. The live
 * colour stays in each upstream as nginx's backup, so no request fails if the new one crashes
 * before verification switches back.
 */
async function switchTraffic(plan: Plan, color: Color, version: string, backup: Color | undefined, journal: Journal): Promise<void> {
  for (const host of plan.hosts) {
    journal.step('switching', `switching nginx on ${host.name} to ${color} (${version})`);
    await hostOps.switchRouter.executeWithOptions({ summary: `switch nginx on ${host.name} to ${color}` }, [
      { host, router: plan.router, slots: plan.slots, color, version, ...(backup ? { backup } : {}) },
    ]);
  }
}

async function verifyTraffic(plan: Plan, version: string, journal: Journal): Promise<void> {
  journal.step('verifying', `checking that ${plan.verify.requests} answers in a row through each router come from ${version}`);
  await onEveryHost(plan, (host) =>
    hostOps.verifyRouter.executeWithOptions({ retry: { maximumAttempts: 2 }, summary: `verify ${version} through nginx on ${host.name}` }, [
      { host, router: plan.router, slots: plan.slots, version, verify: plan.verify, timeoutMs: plan.health.timeoutMs * 4 },
    ]),
  );
}

/** Put everything back as it was: traffic to the live colour on every host, the new slot stopped. */
async function undo(plan: Plan, at: { target: Color; live: Live | null; switched: boolean }, journal: Journal): Promise<void> {
  const { live } = at;
  if (at.switched && live) {
    journal.step('restoring', `switching every host back to ${live.color}`);
    await onEveryHost(plan, (host) =>
      restoreOps.switchRouter.executeWithOptions(
        { summary: `switch nginx on ${host.name} back to ${live.color}` },
        [{ host, router: plan.router, slots: plan.slots, color: live.color, version: live.version ?? 'unknown' }],
      ),
    );
  }
  if (at.switched && !live) {
    journal.step('restoring', `first deploy: no earlier colour to switch back to; ${at.target} keeps running`);
    return;
  }
  journal.step('cleaning-up', `stopping ${at.target} on every host`);
  await onEveryHost(plan, (host) =>
    restoreOps.stopSlot.executeWithOptions(
      { summary: `stop ${at.target} on ${host.name}` },
      [{ host, slots: plan.slots, color: at.target }],
    ),
  );
}
