// Following an operation the CLI requested: wait for its turn, print its progress, report how
// it ended.
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  envWorkflowId,
  outermostFailureType,
  progressQuery,
  rollbackTrafficUpdate,
  type DeployResult,
  type EnvState,
  type OperationKind,
  type ProgressEntry,
  type RollbackResult,
  type RollbackTraffic,
} from '../contract';
import { NO_WORKER_HINT, queryEnvState, workflowExists } from './environment-client';
import { causeChain, formatDeployResult, formatFailure, formatProgress, formatRollbackResult, formatWaiting } from './format';
import { CliError, EXIT, exitCodeOfFailure, type ExitCode, type Io, type Outcome, type Output } from './output';
import { withQueryDeadline, type TemporalConnection } from './temporal';

export interface Target {
  kind: OperationKind;
  id: string;
  app: string;
  env: string;
  url: string;
}

const TICK_MS = 1000;
/**
 * Until the operation's workflow exists: look often at first (a rollback starts within ms), then
 * once a second; the environment's state (a query its worker answers) at most every STATE_EVERY_MS.
 */
const FIRST_TICKS_MS = 25;
const FIRST_TICKS_FOR_MS = 5_000;
const STATE_EVERY_MS = 250;
const RESEND_AFTER_MS = 15_000;

function knows(state: EnvState | null, id: string): boolean {
  if (state === null) return false;
  return (
    state.running?.id === id ||
    state.queue.some((q) => q.id === id) ||
    (state.scheduled ?? []).some((q) => q.id === id) ||
    state.recent.some((r) => r.id === id) ||
    state.rejected.some((r) => r.id === id)
  );
}

/**
 * Wait until the operation's workflow exists, reporting the queue; then follow it to the end.
 * `resend` sends the request again; the environment workflow ignores ids it already knows.
 */
export async function follow(t: TemporalConnection, target: Target, out: Output, io: Io, resend: () => Promise<void>): Promise<Outcome> {
  const envId = envWorkflowId(target.app, target.env);
  const since = io.now().getTime();
  let lastWaiting = '';
  let warnedSilent = false;
  let resent = false;
  let stateAt = -Infinity;
  for (;;) {
    if (await workflowExists(t.client, target.id)) return target.kind === 'rollback' ? followRollback(t, target, out, io) : followWorkflow(t, target, out, io);
    if (io.now().getTime() - stateAt >= STATE_EVERY_MS) {
      stateAt = io.now().getTime();
      const state = await queryEnvState(t, target.app, target.env);
      if (state === undefined) {
        if (!warnedSilent) {
          out.line(`no answer from ${envId} yet; ${NO_WORKER_HINT}`);
          warnedSilent = true;
        }
      } else {
        if (state !== null) {
          const ended = await endedEarlier(t, state, target, out);
          if (ended) return ended;
          const waiting = formatWaiting(state, target.id);
          if (waiting !== lastWaiting) {
            out.line(waiting);
            lastWaiting = waiting;
          }
        }
        // A signal sent while the environment workflow continues as new can, rarely, be lost.
        if (!resent && !knows(state, target.id) && io.now().getTime() - since >= RESEND_AFTER_MS) {
          out.line(`${envId} has no record of ${target.id} after ${RESEND_AFTER_MS / 1000}s; sending the request again`);
          await resend();
          resent = true;
        }
      }
    }
    await io.sleep(io.now().getTime() - since < FIRST_TICKS_FOR_MS ? FIRST_TICKS_MS : TICK_MS);
  }
}

/** The outcome if the environment refused the request or remembers it finished; throws on refusal. */
async function endedEarlier(t: TemporalConnection, state: EnvState, target: Target, out: Output): Promise<Outcome | undefined> {
  const refused = state.rejected.find((r) => r.id === target.id);
  if (refused) {
    throw new CliError(`${target.kind} ${target.id} was refused: ${refused.reason}`, EXIT.badInput, { id: target.id, url: target.url });
  }
  const done = state.recent.find((r) => r.id === target.id);
  if (!done || (await workflowExists(t.client, target.id))) return undefined;
  // Finished earlier (a retried CI job) and its history is gone: report what the environment remembers.
  const ok = done.outcome === 'succeeded';
  const text = `${target.kind} ${target.id} already ${done.outcome}${done.reason ? `: ${done.reason}` : ''}`;
  if (ok) out.line(text);
  else out.error(text);
  const failure = done.failureType ? { failureType: done.failureType } : {};
  return { exitCode: ok ? EXIT.ok : exitCodeOfFailure(done.failureType), report: { ok, id: target.id, url: target.url, outcome: done, ...failure } };
}

async function printNewProgress(t: TemporalConnection, handle: WorkflowHandle, seen: number, out: Output): Promise<number> {
  let entries: ProgressEntry[];
  try {
    entries = await withQueryDeadline(t, () => handle.query(progressQuery));
  } catch {
    return seen; // a slow or busy worker: try again on the next tick
  }
  if (entries.length < seen) seen = 0;
  for (const entry of entries.slice(seen)) out.line(formatProgress(entry));
  return entries.length;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

async function followWorkflow(t: TemporalConnection, target: Target, out: Output, io: Io, printed = 0): Promise<Outcome> {
  const handle = t.client.workflow.getHandle(target.id);
  const result: Promise<Settled> = handle.result().then(
    (value: unknown) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let seen = printed;
  let settled: Settled | undefined;
  while (!settled) {
    seen = await printNewProgress(t, handle, seen, out);
    settled = await Promise.race([result, io.sleep(TICK_MS).then(() => undefined)]);
  }
  await printNewProgress(t, handle, seen, out);
  const base = { id: target.id, url: target.url };
  if (settled.ok) {
    const summary =
      target.kind === 'deploy'
        ? formatDeployResult(target.app, target.env, settled.value as DeployResult)
        : formatRollbackResult(target.app, target.env, settled.value as RollbackResult);
    out.line(summary);
    out.line(target.url);
    return { exitCode: EXIT.ok, report: { ok: true, ...base, result: settled.value } };
  }
  if (settled.error instanceof WorkflowFailedError) {
    out.error(formatFailure(target.kind, target.id, settled.error));
    out.error(target.url);
    const error = causeChain(settled.error.cause ?? settled.error).join('; caused by: ');
    const failureType = failureTypeOf(settled.error);
    return { exitCode: exitCodeOfFailure(failureType), report: { ok: false, ...base, error, ...(failureType ? { failureType } : {}) } };
  }
  throw settled.error;
}

/**
 * A rollback answers `rollback --wait` as soon as every router is back on the old colour and
 * verification has said whether it answers as the old version (the `traffic` Update); stopping
 * the rolled-back colour goes on in the workflow. A failed verification exits 1, as a failed
 * rollback does. A rollback that cannot answer the Update (one that ended first, or a worker
 * from before the Update) is followed to its end instead.
 */
async function followRollback(t: TemporalConnection, target: Target, out: Output, io: Io): Promise<Outcome> {
  const handle = t.client.workflow.getHandle(target.id);
  const answer: Promise<{ ok: true; value: RollbackTraffic } | { ok: false }> = handle.executeUpdate(rollbackTrafficUpdate).then(
    (value) => ({ ok: true as const, value }),
    () => ({ ok: false as const }),
  );
  let seen = 0;
  let settled: Awaited<typeof answer> | undefined;
  while (!settled) {
    seen = await printNewProgress(t, handle, seen, out);
    settled = await Promise.race([answer, io.sleep(TICK_MS).then(() => undefined)]);
  }
  if (!settled.ok) return followWorkflow(t, target, out, io, seen);
  await printNewProgress(t, handle, seen, out);
  const base = { id: target.id, url: target.url };
  const traffic = settled.value;
  if (traffic.verified) {
    out.line(formatRollbackResult(target.app, target.env, traffic.result));
    if (!traffic.result.cancelledDeploy) out.line('verified through every router; the rolled-back colour is being stopped (cutover status shows when)');
    out.line(target.url);
    return { exitCode: EXIT.ok, report: { ok: true, ...base, result: traffic.result, verified: true } };
  }
  out.error(`rollback ${target.id} failed: ${traffic.reason}`);
  out.error(target.url);
  return { exitCode: exitCodeOfFailure(traffic.failureType), report: { ok: false, ...base, error: traffic.reason, failureType: traffic.failureType } };
}

/** The type of the outermost ApplicationFailure of a failed operation (see outermostFailureType). */
export function failureTypeOf(err: WorkflowFailedError): string | undefined {
  return outermostFailureType(err.cause);
}

/**
 * How a failed operation exits: 2 when the request itself was wrong (a version not installed),
 * 4 when the environment was not deployable (hosts disagree, a changed host key, a host that
 * could not be read, nothing to roll back): in both nothing changed. Else 1: the operation
 * failed and was rolled back (a canary that failed its analysis or was aborted included).
 */
export function failureExitCode(err: WorkflowFailedError): ExitCode {
  return exitCodeOfFailure(failureTypeOf(err));
}
