// Rollback during the teardown window: every host goes back to the colour that is still
// running, at once (no start, no health wait), then the rolled-back colour is stopped.
// `rollback --wait` does not wait for that stop: the `traffic` Update answers as soon as
// verification has said whether the routers serve the old version (RollbackTraffic).
import { allHandlersFinished, ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import { rollbackTrafficUpdate, type LiveColor, type PreviousColor, type RollbackResult, type RollbackTraffic } from '../contract/api';
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
  let traffic: RollbackTraffic | undefined;
  // Answers once traffic is back and verified (or cannot be). An Update that arrives after the
  // rollback ended fails, and the caller reads the result instead.
  setHandler(rollbackTrafficUpdate, async () => {
    await condition(() => traffic !== undefined);
    return traffic!;
  });
  /** Say how it went to an Update waiting for it before the workflow ends (else the Update fails with the workflow). */
  const answer = async (t: RollbackTraffic): Promise<void> => {
    traffic = t;
    await condition(allHandlersFinished);
  };

  if (input.cancelledDeploy) {
    // The cancelled deploy put traffic back itself; report what the hosts really serve.
    const serving = await readLiveColour(plan);
    if (!serving) throw ApplicationFailure.create({ type: FAILURE.rollbackFailed, nonRetryable: true, message: `cancelled deploy ${input.cancelledDeploy}, but no host serves anything` });
    const version = serving.version ?? 'unknown';
    journal.step('done', `cancelled deploy ${input.cancelledDeploy}; ${serving.color} (${version}) keeps serving`);
    const result: RollbackResult = { rollbackId, color: serving.color, version, hosts, cancelledDeploy: input.cancelledDeploy };
    await answer({ verified: true, result });
    return result;
  }
  if (!previous || !live) {
    const message = `nothing to roll back in ${where}: ${live ? `${live.color} (${live.version}) is live and no earlier colour is still running (the teardown already stopped it)` : 'nothing has been deployed yet'}; deploy the version you want instead`;
    await answer({ verified: false, failureType: FAILURE.nothingToRollBack, reason: message });
    throw ApplicationFailure.create({ type: FAILURE.nothingToRollBack, nonRetryable: true, message });
  }

  const headline = `:leftwards_arrow_with_hook: ${where}: rolling back ${live.version} → ${previous.version} by ${request.trigger.by}`;
  // The emergency path: traffic first, then tell people (older runs posted first), and verify
  // while the Slack thread opens (older runs verified after it).
  const switchFirst = patched('rollback-switch-first');
  if (!switchFirst) await journal.open(headline);
  journal.step('switching', `switching every host back to ${previous.color} (${previous.version})`);
  await restoreTraffic(plan, previous);
  const verifyWhilePosting = switchFirst && patched('rollback-verify-while-posting');
  const posted = switchFirst ? (verifyWhilePosting ? journal.open(headline) : await journal.open(headline)) : undefined;
  try {
    await verifyTraffic(plan, previous.version, journal);
  } catch (err) {
    journal.step('failed', `traffic is back on ${previous.color} but it does not answer as ${previous.version}; ${live.color} kept running`);
    await posted;
    const message = `traffic is back on ${previous.color} but it does not answer as ${previous.version}; ${live.color} kept running: ${String(err)}`;
    await answer({ verified: false, failureType: FAILURE.rollbackFailed, reason: message });
    await journal.notify('failed', `:rotating_light: rolled back to ${previous.color} but verification failed; ${live.color} (${live.version}) is kept running`);
    throw ApplicationFailure.create({ type: FAILURE.rollbackFailed, nonRetryable: true, message, cause: err instanceof Error ? err : undefined });
  }
  const result: RollbackResult = { rollbackId, color: previous.color, version: previous.version, hosts };
  traffic = { verified: true, result };
  await posted;
  journal.step('stopping', `stopping ${live.color} (${live.version}) on every host`);
  await stopColour(plan, live.color, (host) => `stop ${live.color} on ${host}`);
  journal.step('done', `${previous.version} serves all traffic on ${previous.color}`);
  await journal.notify('rolled-back', `:leftwards_arrow_with_hook: rolled back: ${previous.version} live on ${previous.color}`, `:leftwards_arrow_with_hook: ${where}: rolled back to ${previous.version} on ${previous.color}`);
  return result;
}
