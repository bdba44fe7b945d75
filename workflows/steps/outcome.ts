// How a deploy ends when it does not succeed: refused before anything changed, or failed (or
// cancelled) and rolled back by its saga. Shared by every strategy.
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { FAILURE, failureCategory } from '../../contract/failures';
import type { DeployRequest } from '../../contract/requests';
import type { Color } from '../../contract/spec';
import { reasonOf, type Journal } from './journal';
import { readLiveColour } from './router';
import { checkVersionInstalled } from './slots';
import type { Saga } from './saga';

export interface Live {
  color: Color;
  version: string | null;
}

/**
 * Before anything changes: what every router serves (refused if they disagree) and, when
 * `slots.installed` is set, whether the version is on every host. A refusal is said in the
 * journal and in Slack. Blue-green passes its patch checks; a newer strategy has none.
 */
export async function preflight(
  request: DeployRequest,
  journal: Journal,
  checks: { installed: () => boolean; announce: () => boolean; together?: () => boolean } = { installed: () => true, announce: () => true },
): Promise<Live | null> {
  const { plan, version } = request;
  journal.step('reading', plan.platform.kind === 'ssh' ? `reading which colour each of ${plan.platform.hosts.length} host(s) serves` : 'reading which colour the ALB listener serves');
  try {
    if (checks.together?.()) {
      // Both reads at once (patch `fewer-rounds`); a disagreement is reported before a missing version, as before.
      const [read, installed] = await Promise.allSettled([
        readLiveColour(plan),
        checks.installed() && plan.platform.kind === 'ssh' && plan.platform.slots.installed ? checkVersionInstalled(plan, version, journal) : Promise.resolve(),
      ]);
      if (read.status === 'rejected') throw read.reason;
      if (installed.status === 'rejected') throw installed.reason;
      return read.value;
    }
    const live = await readLiveColour(plan);
    if (checks.installed() && plan.platform.kind === 'ssh' && plan.platform.slots.installed) await checkVersionInstalled(plan, version, journal);
    return live;
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (checks.announce()) await refuse(request, journal, err);
    throw asRefusal(err);
  }
}

/**
 * A failure before anything changed, typed so the CLI can tell it from a rollback: our own
 * refusals (HostsDisagree, VersionNotInstalled) and activity failures of a known kind (a changed
 * host key, unsafe input) as they are; anything else (a host unreachable, its router unreadable)
 * as EnvironmentNotDeployable.
 */
function asRefusal(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && failureCategory(err.cause.type ?? undefined) !== 'failed') return err;
  return ApplicationFailure.create({
    type: FAILURE.notDeployable,
    nonRetryable: true,
    message: 'could not read every host before deploying; nothing was changed',
    cause: err instanceof Error ? err : undefined,
  });
}

/** Say in the journal and in Slack that the deploy was refused and nothing was changed. */
export async function refuse(request: DeployRequest, journal: Journal, err: unknown): Promise<void> {
  const why = reasonOf(err);
  const refusal = why.includes('nothing was changed') ? why : `${why}; nothing was changed`;
  journal.step('refused', `deploy refused: ${refusal}`);
  await journal.open(`:no_entry: ${request.plan.app}/${request.plan.env}: deploy of ${request.version} by ${request.trigger.by} refused: ${refusal}`);
}

export interface FailureInput {
  request: DeployRequest;
  journal: Journal;
  saga: Saga;
  err: unknown;
  live: Live | null;
  /** Whether traffic had moved (the Slack event is `rolled-back`, else `failed`). */
  details: { switched: boolean } & Record<string, unknown>;
  /** Failure type and reason, when not a plain DeployFailed with the error's reason. */
  type?: string;
  reason?: string;
}

/**
 * Undo what the deploy did, tell people, and return the error to throw: the cancellation itself
 * when cancelled, else a non-retryable ApplicationFailure.
 */
export async function deployFailure(f: FailureInput): Promise<unknown> {
  const { request, journal, live } = f;
  const where = `${request.plan.app}/${request.plan.env}`;
  const reason = f.reason ?? reasonOf(f.err);
  const cancelled = isCancellation(f.err);
  let kept = live ? `${live.color} (${live.version ?? '?'}) still serving` : 'nothing was serving before';
  try {
    await f.saga.compensate();
  } catch (undoErr) {
    kept = `CLEANUP FAILED, check the hosts: ${reasonOf(undoErr)}`;
  }
  const what = cancelled ? 'cancelled' : 'failed';
  journal.step(cancelled ? 'cancelled' : 'failed', `deploy ${what}: ${reason}; ${kept}`);
  await CancellationScope.nonCancellable(() =>
    journal.notify(
      f.details.switched ? 'rolled-back' : 'failed',
      `:x: deploy ${what} - rolled back: ${reason}. ${kept}.`,
      `:x: ${where}: deploy of ${request.version} ${what} - rolled back; ${kept}`,
    ),
  );
  if (cancelled) return f.err;
  // A rejection keeps its type: the deploy ended because a person said no, not because something broke.
  const rejected = f.err instanceof ApplicationFailure && f.err.type === FAILURE.deployRejected;
  return ApplicationFailure.create({
    type: f.type ?? (rejected ? FAILURE.deployRejected : FAILURE.deployFailed),
    message: `deploy of ${request.version} to ${where} failed - rolled back: ${reason}`,
    nonRetryable: true,
    details: [f.details],
  });
}
