// Human text for the CLI. Pure functions of their arguments (times are local to the machine).
import {
  otherColor,
  type DeployResult,
  type EnvState,
  type FinishedOperation,
  type LiveColor,
  type Measurement,
  type OperationKind,
  type ProgressEntry,
  type QueuedOperation,
  type RollbackResult,
} from '../contract';

const pad = (n: number): string => String(n).padStart(2, '0');

/** `HH:MM:SS`, local time. */
export function clock(at: number): string {
  const d = new Date(at);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `YYYY-MM-DD HH:MM:SS`, local time. */
export function localTime(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(at)}`;
}

/** `in 42m`, `3h 5m ago`, `now`. */
export function relative(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  if (abs < 1000) return 'now';
  const s = Math.round(abs / 1000);
  const parts =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`
        : s < 86400
          ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`
          : `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
  return diff > 0 ? `in ${parts}` : `${parts} ago`;
}

export function formatProgress(entry: ProgressEntry): string {
  return `${clock(entry.at)} ${entry.step}: ${entry.message}`;
}

const describeOp = (op: QueuedOperation): string =>
  `${op.kind} ${op.id}${op.version ? ` (${op.version})` : ''} by ${op.by}${op.breakGlass ? ` [break-glass: ${op.breakGlass}]` : ''}${op.gate && op.gate.phase !== 'passed' ? `: ${op.gate.message}` : ''}`;

/** Where a requested operation stands before its workflow exists. */
export function formatWaiting(state: EnvState, id: string): string {
  if (state.running?.id === id) return 'starting now';
  const scheduled = (state.scheduled ?? []).find((q) => q.id === id);
  if (scheduled) return `scheduled for ${scheduled.scheduledFor?.text ?? '?'}; cutover cancel ${state.app} ${state.env} ${id} drops it`;
  const index = state.queue.findIndex((q) => q.id === id);
  if (index < 0) return `waiting for env/${state.app}/${state.env} to take the request`;
  const ahead = index + (state.running ? 1 : 0);
  if (ahead === 0) return 'next in line';
  return `waiting its turn: ${ahead} operation(s) ahead${state.running ? ` (running: ${state.running.id})` : ''}`;
}

export function formatDeployResult(app: string, env: string, r: DeployResult): string {
  const kept = r.previous ? `; ${r.previous.color} (${r.previous.version}) stays up for an instant rollback` : '';
  return `deployed ${app}/${env} ${r.version} on ${r.color} (${r.hosts.join(', ')})${kept}`;
}

export function formatRollbackResult(app: string, env: string, r: RollbackResult): string {
  return `rolled back ${app}/${env} to ${r.version} on ${r.color} (${r.hosts.join(', ')})`;
}

export function formatOutcome(op: FinishedOperation, now: number): string {
  const when = `${localTime(op.at)} (${relative(op.at, now)})`;
  const what = `${op.kind.padEnd(8)} ${(op.version ?? '').padEnd(12)} ${op.outcome.padEnd(9)}`;
  return `${when}  ${what} by ${op.by}  ${op.id}${op.reason ? `\n      ${op.reason}` : ''}`;
}

/**
 * `green (v2)`: where a canary goes. The colour is named only when the environment knows what is
 * live; without that record (hosts set up by hand) the canary reads the colour from the hosts.
 */
export const canaryInto = (version: string | undefined, live: LiveColor | null): string =>
  live ? `${otherColor(live.color)} (${version ?? '?'})` : (version ?? 'the new version');

/** `blue (v1)`: what a rolled-back canary leaves serving. */
export const stableColour = (live: LiveColor | null): string => (live ? `${live.color} (${live.version})` : 'the stable colour');

const valueOf = (v: number | null): string => (v === null ? 'no value' : Number.isInteger(v) ? String(v) : v.toPrecision(3));

/** `error-rate = 0.002 (fail if > 0.01): pass`, with the detail when it did not pass. */
export function formatMeasurement(m: Measurement): string {
  const detail = m.verdict !== 'pass' && m.detail ? ` (${m.detail})` : '';
  return `${m.metric} = ${valueOf(m.value)} (${m.threshold}): ${m.verdict}${detail}`;
}

/** The `canary:` lines of `cutover status` for a running canary deploy. */
export function formatCanary(op: QueuedOperation, live: LiveColor | null, now: number): string[] {
  const into = canaryInto(op.version, live);
  const c = op.canary;
  if (!c || c.phase === 'starting') return [`canary:    starting ${into}: no traffic until it is healthy`];
  if (c.phase === 'promoting') return [`canary:    switching all traffic to ${into}`];
  if (c.phase === 'done') return [`canary:    ${into} takes all traffic`];
  if (c.phase === 'aborting') return [`canary:    rolling back from ${c.weight}%: every host back to ${stableColour(live)}`];
  const waits: string[] = [];
  if (c.paused) waits.push('paused by hand');
  if (c.awaitingPromotion) waits.push('waiting for cutover promote');
  else if (!c.paused && c.pauseEndsAt !== null) waits.push(`next step ${relative(Math.max(c.pauseEndsAt, now), now)}`);
  const lines = [`canary:    step ${c.step + 1}/${c.steps}, ${c.weight}% to ${into}${waits.length > 0 ? `, ${waits.join(', ')}` : ''}`];
  c.lastMeasurements.forEach((m, i) => lines.push(`${i === 0 ? 'measured: ' : '          '} ${formatMeasurement(m)}`));
  return lines;
}

/** `cutover status`. */
export function formatStatus(state: EnvState, now: number, url: string): string[] {
  const lines = [`${state.app}/${state.env}  ${url}`];
  lines.push(
    state.live
      ? `live:      ${state.live.color} ${state.live.version}  (${state.live.deployId})`
      : 'live:      nothing deployed by cutover yet',
  );
  if (state.previous) {
    const p = state.previous;
    lines.push(
      `previous:  ${p.color} ${p.version}  kept for rollback until ${localTime(p.teardownAt)} (${relative(p.teardownAt, now)})`,
    );
  }
  lines.push(`running:   ${state.running ? describeOp(state.running) : 'nothing'}`);
  if (state.running?.kind === 'deploy' && (state.running.strategy === 'canary' || state.running.canary)) {
    lines.push(...formatCanary(state.running, state.live, now));
  }
  if (state.queue.length === 0) lines.push('queued:    nothing');
  else state.queue.forEach((q, i) => lines.push(`${i === 0 ? 'queued:   ' : '          '} ${i + 1}. ${describeOp(q)}`));
  (state.scheduled ?? []).forEach((q, i) =>
    lines.push(`${i === 0 ? 'scheduled:' : '          '} ${q.scheduledFor ? `${q.scheduledFor.text} (${relative(q.scheduledFor.at, now)})` : '?'}: ${describeOp(q)}`),
  );
  if (state.recent.length > 0) {
    lines.push('recent:');
    for (const op of state.recent.slice(0, 5)) lines.push(`  ${formatOutcome(op, now)}`);
  }
  if (state.rejected.length > 0) {
    lines.push('refused:');
    for (const r of state.rejected.slice(0, 3)) lines.push(`  ${localTime(r.at)}  ${r.id}: ${r.reason}`);
  }
  return lines;
}

/** The messages of an error and its causes, most general first, without repeats. */
export function causeChain(err: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 10; depth++) {
    const e = cur as { message?: unknown; name?: unknown; cause?: unknown; type?: unknown };
    let msg = typeof e.message === 'string' && e.message !== '' ? e.message : String(e.name ?? cur);
    if (e.name === 'TerminatedFailure') msg = `terminated${msg && msg !== 'Workflow execution terminated' ? `: ${msg}` : ''}`;
    if (!out.includes(msg)) out.push(msg);
    cur = e.cause;
  }
  return out;
}

/** `deploy deploy/shop/prod/x failed: <reason>; caused by: <cause>`. */
export function formatFailure(kind: OperationKind, id: string, err: unknown): string {
  const chain = causeChain(err).filter((m) => !/^(Workflow execution (failed|cancelled)|Activity task failed|Child Workflow execution failed)$/.test(m));
  return `${kind} ${id} failed: ${chain.length > 0 ? chain.join('; caused by: ') : 'unknown reason'}`;
}
