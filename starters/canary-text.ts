// Which canary `cutover promote | pause | resume | abort` talks to, and the one line each ends
// with. Pure functions of their arguments (the status lines are in format.ts).
import type { CanaryStatus, CanaryStrategy, EnvState, LiveColor, Plan } from '../contract';
import { canaryInto, stableColour } from './format';

export type CanaryAction = 'promote' | 'pause' | 'resume' | 'abort';

/** What one control command asks of the canary. */
export type CanaryRequest =
  | { action: 'promote'; full: boolean }
  | { action: 'pause' }
  | { action: 'resume' }
  | { action: 'abort'; reason?: string };

/** Which canary a command talks to, and what the environment knows around it. */
export interface CanaryTarget {
  app: string;
  env: string;
  /** The deploy workflow's id. */
  id: string;
  version: string | undefined;
  live: LiveColor | null;
  plan: Plan | null;
}

/** A running canary deploy, or why there is none. */
export function findCanary(state: EnvState | null, app: string, env: string): { target: CanaryTarget } | { none: string } {
  const running = state?.running ?? null;
  if (state === null || running === null) return { none: `no canary is running in ${app}/${env} (nothing is running)` };
  if (running.kind !== 'deploy') return { none: `no canary is running in ${app}/${env} (running: ${running.kind} ${running.id})` };
  if (running.strategy !== 'canary') {
    return { none: `no canary is running in ${app}/${env} (running: ${running.id}, a blue-green deploy, which has no steps to control)` };
  }
  return { target: { app, env, id: running.id, version: running.version, live: state.live, plan: state.plan } };
}

/** `nothing to promote: no canary is running in shop/prod (…)`. */
export function nothingToControl(action: CanaryAction, why: string): string {
  return `nothing to ${action}: ${why}`;
}

/** The reply when the canary's validator refused the request: its own reason (which names the action), then which canary. */
export function refusedLine(t: Pick<CanaryTarget, 'app' | 'env' | 'id'>, reason: string): string {
  return `${reason} (${t.app}/${t.env} canary ${t.id})`;
}

const stepOf = (s: CanaryStatus): string => `step ${s.step + 1}/${s.steps} (${s.weight}%)`;

/**
 * The step a promotion moves to, from the plan's steps as the canary runs them (ending at 100%,
 * a single 100% step when nothing was live). Undefined when the plan does not match the status.
 */
export function stepAfter(status: CanaryStatus, strategy: CanaryStrategy | undefined): { step: number; weight: number } | undefined {
  if (status.step + 1 >= status.steps) return { step: status.steps - 1, weight: 100 };
  if (!strategy) return undefined;
  const steps = [...strategy.steps];
  if (steps.length + 1 === status.steps) steps.push({ weight: 100 });
  if (steps.length !== status.steps) return undefined;
  const next = steps[status.step + 1];
  if (!next) return undefined;
  // A step without a weight keeps the one in force.
  return { step: status.step + 1, weight: next.weight ?? status.weight };
}

/**
 * The line a command ends with when the canary accepted it. `status` is the canary's status at
 * the moment it accepted, so a promotion says where it goes from there.
 */
export function acceptedLine(request: CanaryRequest, t: CanaryTarget, status: CanaryStatus): string {
  const who = `${t.app}/${t.env} canary ${t.id}`;
  const starting = status.phase === 'starting';
  switch (request.action) {
    case 'promote': {
      const heldNote = status.paused ? '; it is paused by hand, so it moves on after cutover resume' : '';
      if (starting) return `promoted ${who}: to 100% once ${canaryInto(t.version, t.live)} is healthy${heldNote}`;
      const strategy = t.plan?.strategy.kind === 'canary' ? t.plan.strategy : undefined;
      const next = request.full ? { step: status.steps - 1, weight: 100 } : stepAfter(status, strategy);
      const to = next === undefined ? `step ${status.step + 2}/${status.steps}` : next.weight === 100 ? '100%' : stepOf({ ...status, ...next });
      return `promoted ${who}: from ${stepOf(status)} to ${to}${heldNote}`;
    }
    case 'pause':
      return starting
        ? `paused ${who} while it starts: once healthy it takes its first step and holds there until cutover resume`
        : `paused ${who} at ${stepOf(status)}: it holds there, still measuring, until cutover resume`;
    case 'resume': {
      const then = status.awaitingPromotion ? '; it waits for cutover promote' : '';
      return starting ? `resumed ${who} while it starts` : `resumed ${who} at ${stepOf(status)}${then}`;
    }
    case 'abort': {
      const why = request.reason ? ` (reason: ${request.reason})` : '';
      if (starting) return `aborting ${who} while it starts: ${canaryInto(t.version, t.live)} is stopped before it takes any traffic${why}`;
      return `aborting ${who} at ${stepOf(status)}: every host goes back to ${stableColour(t.live)}${why}`;
    }
  }
}
