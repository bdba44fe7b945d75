// The canary runbook: start the new version in the idle colour on every host and health-check
// it, as blue-green does; then give it a growing share of every router's traffic step by step
// (nginx's weighted round robin), measuring its metrics every interval while a step pauses. A
// breach, too many inconclusive measurements or `cutover abort` puts every host back on the
// stable colour at once and stops the canary. At 100% the old colour is kept for the teardown
// window, as after blue-green.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  abortUpdate,
  canaryQuery,
  pauseUpdate,
  promoteUpdate,
  resumeUpdate,
  type CanaryStatus,
  type DeployResult,
} from '../../contract/api';
import { FAILURE } from '../../contract/failures';
import type { DeployRequest } from '../../contract/requests';
import { SA } from '../../contract/search-attributes';
import { otherColor, type CanaryStep, type CanaryStrategy, type Color } from '../../contract/spec';
import { Analysis, describeMeasurement } from '../steps/analysis';
import { canaryReporter } from '../steps/canary-status';
import { beginChanges, deployApprovals, describeFreeze, freezeNow, passGates, requireApproval } from '../steps/gates';
import { hostNames } from '../steps/hosts';
import { deployAudit, Journal } from '../steps/journal';
import { deployFailure, preflight, type Live } from '../steps/outcome';
import { restoreTraffic, shiftTraffic, switchTraffic, verifyTraffic } from '../steps/router';
import { Saga } from '../steps/saga';
import { replaceIdleSlot, stopColour } from '../steps/slots';

/** How often a canary held by a freeze is measured, at most. */
const FROZEN_MEASURE_EVERY_MS = 5 * 60_000;

export interface CanaryInput {
  request: DeployRequest;
}

/** The configured steps, ending at 100% (appended when the last step does not get there). */
export function canarySteps(strategy: CanaryStrategy): CanaryStep[] {
  const steps = [...strategy.steps];
  const last = [...steps].reverse().find((s) => s.weight !== undefined);
  if (last?.weight !== 100) steps.push({ weight: 100 });
  return steps;
}

/** Thrown inside the steps when the canary must end; the saga then puts traffic back. */
class CanaryEnd extends Error {
  constructor(
    readonly type: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export async function canaryDeploy({ request }: CanaryInput): Promise<DeployResult> {
  const { plan, version, deployId } = request;
  if (plan.strategy.kind !== 'canary') {
    throw ApplicationFailure.nonRetryable(`canaryDeploy got a ${plan.strategy.kind} plan`, FAILURE.deployFailed);
  }
  const strategy = plan.strategy;
  const where = `${plan.app}/${plan.env}`;
  const journal = new Journal(plan.slackChannel, deployId, deployAudit(request));
  const hosts = hostNames(plan);

  // The controls and the `canary` query answer from the start (a status or an abort may come while the hosts are read).
  const status: CanaryStatus = {
    step: 0,
    steps: canarySteps(strategy).length,
    weight: 0,
    paused: false,
    awaitingPromotion: false,
    pauseEndsAt: null,
    phase: 'starting',
    lastMeasurements: [],
  };
  const asked: Asked = { promote: false, full: false, by: '', abort: null, changed: 0 };
  const tell = canaryReporter(deployId);
  const report = () => tell(status);
  registerControls(status, asked, journal);

  const gated = patched('deploy-gates');
  const approvals = deployApprovals(request, journal);
  const gates = gated ? await passGates(request, journal, approvals) : {};
  const live: Live | null = await preflight(request, journal, { installed: () => true, announce: () => true, together: () => patched('fewer-rounds') });
  if (gated) await beginChanges(deployId);
  // Nothing live yet: there is nothing to compare with or fall back to, so it goes straight to 100%.
  const steps = live ? canarySteps(strategy) : [{ weight: 100 }];
  const target: Color = live ? otherColor(live.color) : 'blue';
  const stable = live ? { color: live.color, version: live.version ?? 'unknown' } : null;
  const from = stable ? `${stable.color} (${stable.version})` : 'nothing';
  const plannedWeights = steps.filter((s) => s.weight !== undefined).map((s) => `${s.weight}%`).join(' → ');
  status.steps = steps.length;

  await journal.open(`:hatching_chick: ${where}: canary of ${version} in ${target} (${plannedWeights}; stable: ${from}) by ${request.trigger.by}`);
  await journal.notify('started', `Canary ${version} started: ${from} → ${target} on ${hosts.join(', ')}, steps ${plannedWeights}`);

  const analysis = new Analysis(strategy.analysis, plan);
  const vars = { app: plan.app, env: plan.env, version, color: target, stableVersion: stable?.version ?? 'none' };
  const saga = new Saga();
  let switched = false;

  /** Hold a pause: measure every interval, follow promote/pause/resume/abort, end with a measurement. True when promoted by hand. */
  async function hold(durationMs: number | undefined, measureEveryMs = strategy.analysis.intervalMs): Promise<boolean> {
    let promoted = false;
    let remaining = durationMs;
    let measured = false;
    status.awaitingPromotion = remaining === undefined;
    if (status.awaitingPromotion) journal.step('waiting', `at ${status.weight}%: waiting for cutover promote ${plan.app} ${plan.env} (still measuring)`);
    for (;;) {
      if (asked.abort !== null) throw new CanaryEnd(FAILURE.canaryAborted, asked.abort);
      if (asked.promote) {
        asked.promote = false;
        journal.step('promoted', asked.full ? `promoted to 100% by ${asked.by}` : `promoted past step ${status.step + 1} by ${asked.by}`);
        promoted = true;
        break;
      }
      const measuring = status.weight > 0 && analysis.hasMetrics;
      if (remaining !== undefined && remaining <= 0 && !status.paused && (measured || !measuring)) break;
      const interval = strategy.analysis.intervalMs;
      const wait = status.paused || remaining === undefined ? interval : Math.min(measureEveryMs, Math.max(remaining, 0));
      status.pauseEndsAt = status.paused || remaining === undefined ? null : Date.now() + remaining;
      report();
      const seen = asked.changed;
      const started = Date.now();
      const pausedBefore = status.paused;
      // Nothing left to wait (a pause used up before its last measurement): measure now.
      const interrupted =
        wait > 0 &&
        (await condition(() => asked.changed !== seen, wait, {
          summary: status.paused ? `paused by hand at ${status.weight}%` : remaining === undefined ? `at ${status.weight}%: waiting for cutover promote` : `at ${status.weight}% for ${Math.round(remaining / 1000)}s more`,
        }));
      // The pause counts down only while not paused: up to a pause, not up to a resume.
      if (!pausedBefore && remaining !== undefined) remaining -= Date.now() - started;
      if (interrupted || !measuring) continue;
      const { measurements, breach } = await analysis.measure(vars, target);
      measured = true;
      status.lastMeasurements = measurements;
      journal.step('analysis', `at ${status.weight}%: ${measurements.map(describeMeasurement).join('; ')}`);
      if (breach) throw new CanaryEnd(FAILURE.canaryFailed, `analysis failed at ${status.weight}%: ${breach.reason}`);
    }
    status.awaitingPromotion = false;
    status.pauseEndsAt = null;
    return promoted;
  }

  /**
   * Before the next step: a freeze in force holds the canary at its weight (still measuring, every
   * 5 minutes at most, so a bad canary is still rolled back: rollback is never frozen) until it
   * lifts or someone promotes.
   */
  async function holdWhileFrozen(): Promise<void> {
    if (!gated || gates.breakGlassBy !== undefined || status.weight === 0) return;
    for (;;) {
      const freeze = await freezeNow(plan);
      if (!freeze) return;
      journal.step('frozen', `holding at ${status.weight}%: ${describeFreeze(freeze)} (cutover promote goes on now)`);
      await journal.notify(`frozen-${status.step}`, `:snowflake: canary held at ${status.weight}%: ${describeFreeze(freeze)}`);
      // A weekend at the analysis interval would be tens of thousands of events in this history.
      const every = analysis.hasMetrics ? Math.max(strategy.analysis.intervalMs, FROZEN_MEASURE_EVERY_MS) : Number.POSITIVE_INFINITY;
      if (await hold(freeze.endsAt - Date.now(), every)) return;
    }
  }

  async function setWeight(weight: number): Promise<void> {
    if (!stable) return;
    journal.step('shifting', `sending ${weight}% of the traffic to ${target} (${version}) on every host`);
    await shiftTraffic(plan, stable, { color: target, version }, weight);
    status.weight = weight;
    upsertSearchAttributes([{ key: SA.weight, value: weight }]);
    report();
    await journal.notify(`weight-${weight}`, `Canary ${version} takes ${weight}% of the traffic`);
  }

  async function promoteFully(): Promise<void> {
    status.phase = 'promoting';
    report();
    switched = true;
    await switchTraffic(plan, target, version, stable?.color, journal);
    status.weight = 100;
    upsertSearchAttributes([{ key: SA.weight, value: 100 }]);
    await journal.notify('switched', `Traffic switched to ${target} (${version}) on ${hosts.join(', ')}; verifying`);
    await verifyTraffic(plan, version, journal);
  }

  try {
    // Aborted while the hosts were read: nothing to start.
    if (asked.abort !== null) throw new CanaryEnd(FAILURE.canaryAborted, asked.abort);
    const stopCanary = saga.push(`stop ${target}`, async () => {
      journal.step('cleaning-up', `stopping ${target} on every host`);
      await stopColour(plan, target, (host) => `stop ${target} on ${host}`);
    });
    await replaceIdleSlot(plan, target, version, journal, deployId);
    if (asked.abort !== null) throw new CanaryEnd(FAILURE.canaryAborted, asked.abort);
    if (plan.approval?.before === 'switch') await requireApproval(request, approvals, `before ${target} takes any traffic`);

    if (stable) {
      saga.push(`every host back to ${stable.color}`, async () => {
        status.phase = 'aborting';
        journal.step('restoring', `every host back to 100% ${stable.color} (${stable.version})`);
        await restoreTraffic(plan, stable, (host) => `nginx on ${host}: back to 100% ${stable.color}`);
        status.weight = 0;
        upsertSearchAttributes([{ key: SA.weight, value: 0 }]);
      });
    } else {
      stopCanary.forget();
    }
    status.phase = 'progressing';
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      status.step = i;
      if (asked.abort !== null) throw new CanaryEnd(FAILURE.canaryAborted, asked.abort);
      if (step.weight === 100 || asked.full) break;
      if (step.weight !== undefined && step.weight !== status.weight) {
        await holdWhileFrozen();
        if (asked.full) break;
        await setWeight(step.weight);
      }
      if (step.pause) await hold(step.pause.durationMs);
      // Paused by hand between pauses: hold here until resumed (still measuring).
      if (status.paused || asked.abort !== null) await hold(0);
      if (asked.full) break;
    }
    status.step = steps.length - 1;
    if (!asked.full) await holdWhileFrozen();
    await promoteFully();
  } catch (err) {
    const end = err instanceof CanaryEnd ? err : null;
    status.phase = 'aborting';
    report();
    const failure = await deployFailure({
      request,
      journal,
      saga,
      err,
      live,
      details: { switched: switched || status.weight > 0, target, live, weight: status.weight, measurements: status.lastMeasurements },
      ...(end ? { type: end.type, reason: end.reason } : {}),
    });
    await tell.flush();
    throw failure;
  }

  status.phase = 'done';
  report();
  journal.step('live', `${version} serves all traffic on ${target}`);
  await journal.notify('done', `:white_check_mark: ${version} is live on ${target}`, `:white_check_mark: ${where}: ${version} live on ${target} (canary)`);
  await tell.flush();
  await condition(allHandlersFinished);
  return {
    deployId,
    version,
    color: target,
    hosts,
    previous: stable,
    slackThread: journal.slackThread,
  };
}

/** What the controls asked for; `changed` wakes the step that holds. */
interface Asked {
  promote: boolean;
  full: boolean;
  /** Who promoted. */
  by: string;
  abort: string | null;
  changed: number;
}

/** promote / pause / resume / abort, as Updates whose validators reject what cannot be done now. */
function registerControls(status: CanaryStatus, asked: Asked, journal: Journal): void {
  const ended = (): string | null =>
    status.phase === 'done' ? 'the canary is already at 100%' : status.phase === 'aborting' || asked.abort !== null ? 'the canary is being rolled back' : status.phase === 'promoting' ? 'the canary is being switched to 100%' : null;
  const poke = (): CanaryStatus => {
    asked.changed++;
    return status;
  };
  /** Any client may send an Update: who asked, and why, must be short plain text (they reach Slack and the history). */
  const checkRequest = (req: { by?: unknown; reason?: unknown } | undefined): void => {
    if (typeof req?.by !== 'string' || req.by.length === 0 || req.by.length > 200) throw new Error('by: say who asks, in at most 200 characters');
    if (req.reason !== undefined && (typeof req.reason !== 'string' || req.reason.length > 500)) throw new Error('reason: at most 500 characters of text');
  };
  setHandler(canaryQuery, () => status);
  setHandler(
    promoteUpdate,
    ({ full, by }) => {
      if (full) asked.full = true;
      asked.promote = true;
      asked.by = by;
      // Promoting a canary paused by hand lets it go on: the promotion is the decision.
      status.paused = false;
      return poke();
    },
    {
      validator: (req) => {
        checkRequest(req);
        const { full } = req;
        const no = ended();
        if (no) throw new Error(`nothing to promote: ${no}`);
        if (status.phase === 'starting' && !full) throw new Error('nothing to promote yet: the canary is still starting (use --full to go to 100% once it is healthy)');
        if (asked.promote) throw new Error('a promotion is already under way');
      },
    },
  );
  setHandler(
    pauseUpdate,
    ({ by }) => {
      status.paused = true;
      journal.step('paused', `paused at ${status.weight}% by ${by}`);
      return poke();
    },
    {
      validator: (req) => {
        checkRequest(req);
        const no = ended();
        if (no) throw new Error(`cannot pause: ${no}`);
        if (status.paused) throw new Error('the canary is already paused');
      },
    },
  );
  setHandler(
    resumeUpdate,
    ({ by }) => {
      status.paused = false;
      journal.step('resumed', `resumed at ${status.weight}% by ${by}`);
      return poke();
    },
    {
      validator: (req) => {
        checkRequest(req);
        const no = ended();
        if (no) throw new Error(`cannot resume: ${no}`);
        if (!status.paused) throw new Error('the canary is not paused');
      },
    },
  );
  setHandler(
    abortUpdate,
    ({ by, reason }) => {
      asked.abort = `aborted by ${by}${reason ? `: ${reason}` : ''}`;
      return poke();
    },
    {
      validator: (req) => {
        checkRequest(req);
        const no = ended();
        if (no) throw new Error(`cannot abort: ${no}${status.phase === 'done' ? '; use cutover rollback' : ''}`);
      },
    },
  );
}
