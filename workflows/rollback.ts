// Rollback during the teardown window: every host goes back to the colour that is still
// running, at once (no start, no health wait), then the rolled-back colour is stopped.
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LiveColor, PreviousColor, RollbackResult } from '../contract/api';
import { FAILURE } from '../contract/failures';
import { withCurrentPlan, type RollbackRequest } from '../contract/requests';
import { hostNames } from './steps/hosts';
import { Journal } from './steps/journal';
import { readLiveColour, restoreTraffic, verifyTraffic } from './steps/router';
import { stopColour } from './steps/slots';

export interface RollbackInput {
  request: RollbackRequest;
  live: LiveColor | null;
  previous: PreviousColor | null;
  /** A deploy in flight that the rollback cancelled (it restored the live colour itself). */
  cancelledDeploy?: string;
}

export async function rollbackWorkflow(input: RollbackInput): Promise<RollbackResult> {
  const { live, previous } = input;
  const request = withCurrentPlan(input.request);
  const { plan, rollbackId } = request;
  const where = `${plan.app}/${plan.env}`;
  const hosts = hostNames(plan);
  const journal = new Journal(plan.slackChannel, rollbackId, { app: plan.app, env: plan.env, enabled: plan.audit === true, operation: 'rollback', version: previous?.version ?? null, actor: request.trigger.by });
  journal.record('requested', { message: `rollback of ${where} requested by ${request.trigger.by}`, detail: { trigger: request.trigger, ...(live ? { from: live } : {}), ...(previous ? { to: { color: previous.color, version: previous.version } } : {}) } });

  if (input.cancelledDeploy) {
    // The cancelled deploy put traffic back itself; report what the hosts really serve.
    const serving = await readLiveColour(plan);
    if (!serving) throw ApplicationFailure.create({ type: FAILURE.rollbackFailed, nonRetryable: true, message: `cancelled deploy ${input.cancelledDeploy}, but no host serves anything` });
    const version = serving.version ?? 'unknown';
    journal.step('done', `cancelled deploy ${input.cancelledDeploy}; ${serving.color} (${version}) keeps serving`);
    return { rollbackId, color: serving.color, version, hosts, cancelledDeploy: input.cancelledDeploy };
  }
  if (!previous || !live) {
    throw ApplicationFailure.create({
      type: FAILURE.nothingToRollBack,
      nonRetryable: true,
      message: `nothing to roll back in ${where}: ${live ? `${live.color} (${live.version}) is live and no earlier colour is still running (the teardown already stopped it)` : 'nothing has been deployed yet'}; deploy the version you want instead`,
    });
  }

  const headline = `:leftwards_arrow_with_hook: ${where}: rolling back ${live.version} → ${previous.version} by ${request.trigger.by}`;
  // The emergency path: traffic first, then tell people (older runs posted first).
  const switchFirst = patched('rollback-switch-first');
  if (!switchFirst) await journal.open(headline);
  journal.step('switching', `switching every host back to ${previous.color} (${previous.version})`);
  await restoreTraffic(plan, previous);
  if (switchFirst) await journal.open(headline);
  try {
    await verifyTraffic(plan, previous.version, journal);
  } catch (err) {
    journal.step('failed', `traffic is back on ${previous.color} but it does not answer as ${previous.version}; ${live.color} kept running`);
    await journal.notify('failed', `:rotating_light: rolled back to ${previous.color} but verification failed; ${live.color} (${live.version}) is kept running`);
    throw ApplicationFailure.create({ type: FAILURE.rollbackFailed, nonRetryable: true, message: `traffic is back on ${previous.color} but it does not answer as ${previous.version}; ${live.color} kept running: ${String(err)}`, cause: err instanceof Error ? err : undefined });
  }
  journal.step('stopping', `stopping ${live.color} (${live.version}) on every host`);
  await stopColour(plan, live.color, (host) => `stop ${live.color} on ${host}`);
  journal.step('done', `${previous.version} serves all traffic on ${previous.color}`);
  await journal.notify('rolled-back', `:leftwards_arrow_with_hook: rolled back: ${previous.version} live on ${previous.color}`, `:leftwards_arrow_with_hook: ${where}: rolled back to ${previous.version} on ${previous.color}`);
  return { rollbackId, color: previous.color, version: previous.version, hosts };
}
