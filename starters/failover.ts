// `cutover failover status | start | confirm | abort | monitor <site>` and `cutover failback
// <site>`: the disaster-recovery failover of a `sites:` service (workflows/failover.ts,
// monitor.ts, failback.ts).
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { resolveSite } from '../config/sites';
import {
  FAILOVER_FAILURE,
  failbackWorkflowId,
  failoverAbortUpdate,
  failoverConfirmUpdate,
  failoverStateQuery,
  failoverWorkflowId,
  monitorStateQuery,
  monitorWorkflowId,
  type FailbackResult,
  type FailoverRequest,
  type FailoverResult,
  type FailoverSpec,
  type FailoverState,
  type MonitorState,
} from '../contract/failover';
import { TASK_QUEUE } from '../contract/spec';
import { refusalReason } from './canary-control';
import { checkNames, loadCliConfig, type GlobalOptions } from './config-file';
import { NO_WORKER_HINT } from './environment-client';
import { causeChain } from './format';
import { CliError, EXIT, type ExitCode, type Io, type Outcome, type Output } from './output';
import { connectTemporal, resolveTemporal, workflowUrl, type TemporalConnection, type TemporalSettings } from './temporal';
import { checkReason } from './text-input';
import { compactTimestamp, sanitizeKey, triggerFromEnv } from './trigger';

export interface FailoverStartOptions {
  acceptDataLoss?: boolean;
  reason?: string;
  key?: string;
  wait?: boolean;
}

const UPDATE_TIMEOUT_MS = 10_000;

/** Refused with the old primary still the primary (the fence undone when it has an undo) → 4; the rest → 1. */
function exitOf(type: string | undefined): ExitCode {
  return type === FAILOVER_FAILURE.lagTooHigh || type === FAILOVER_FAILURE.notFenced ? EXIT.refused : EXIT.failed;
}

async function withSite<T>(site: string, g: GlobalOptions, io: Io, fn: (spec: FailoverSpec, t: TemporalConnection, settings: TemporalSettings) => Promise<T>): Promise<T> {
  checkNames({ site });
  const { config, file } = loadCliConfig(g, io);
  const spec = resolveSite(config.sites, site, config.audit !== undefined);
  if (!spec) {
    const known = Object.keys(config.sites ?? {});
    throw new CliError(`${file}: sites.${site}: no such site${known.length ? ` (known: ${known.join(', ')})` : '; add a sites: section (README, "Disaster recovery")'}`, EXIT.badInput, { site });
  }
  const settings = await resolveTemporal({ file: { temporal: config.temporal, path: file }, env: io.env, flags: g });
  const t = await connectTemporal(settings);
  try {
    return await fn(spec, t, settings);
  } finally {
    await t.close().catch(() => undefined);
  }
}

/** The running failover of a site, found through its search attributes. */
async function runningFailover(t: TemporalConnection, site: string): Promise<string | undefined> {
  for await (const w of t.client.workflow.list({ query: `WorkflowType = 'failoverWorkflow' AND CutoverApp = '${site}' AND ExecutionStatus = 'Running'` })) return w.workflowId;
  return undefined;
}

async function latestFailover(t: TemporalConnection, site: string): Promise<string | undefined> {
  for await (const w of t.client.workflow.list({ query: `WorkflowType = 'failoverWorkflow' AND CutoverApp = '${site}'` })) return w.workflowId; // newest first
  return undefined;
}

export function formatFailover(s: FailoverState | FailoverResult): string[] {
  const lines = [`failover ${s.site}: ${s.from} → ${s.to}: ${s.phase}${s.promoted ? ` (${s.to} is promoted)` : ''}`];
  for (const st of s.steps) lines.push(`  ${st.step.padEnd(8)} ${st.ms === null ? 'running' : `${(st.ms / 1000).toFixed(1)} s`.padStart(8)}  ${st.summary}`);
  if ('rtoMs' in s) lines.push(`  RTO ${(s.rtoMs / 1000).toFixed(1)} s; RPO estimate ${s.rpo?.bytes ?? '?'} bytes, ${s.rpo?.seconds ?? '?'} s; DNS answers ${s.dnsAnswer.join(', ')}`);
  for (const w of s.warnings) lines.push(`  WARNING: ${w}`);
  return lines;
}

function formatMonitor(m: MonitorState): string {
  const last = m.lastProbe ? `; last probe ${m.lastProbe.ok ? 'ok' : 'FAILED'}: ${m.lastProbe.detail}` : '';
  const incident = m.incident ? `; incident open since ${new Date(m.incident.openedAt).toISOString()}${m.incident.failoverId ? `, ${m.incident.failoverId}` : ''}` : '';
  return `monitor ${m.site}: ${m.phase}, primary ${m.primary}, ${m.failuresInRow}/${m.threshold} failed probes in a row${last}${incident}`;
}

async function tryQuery<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch {
    return undefined;
  }
}

export function failoverStatusCommand(site: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return withSite(site, g, io, async (spec, t, settings) => {
    const monitorId = monitorWorkflowId(site);
    const deadline = () => Date.now() + 5000;
    const monitor = await tryQuery(() => t.connection.withDeadline(deadline(), () => t.client.workflow.getHandle(monitorId).query(monitorStateQuery)));
    const id = (await runningFailover(t, site)) ?? (await latestFailover(t, site));
    const failover = id ? await tryQuery(() => t.connection.withDeadline(deadline(), () => t.client.workflow.getHandle(id).query(failoverStateQuery))) : undefined;
    out.line(monitor ? formatMonitor(monitor) : `monitor ${site}: not running (start it with cutover failover monitor ${site})`);
    out.line(`  ${workflowUrl(settings, monitorId)}`);
    if (failover && id) {
      for (const l of formatFailover(failover)) out.line(l);
      out.line(`  ${workflowUrl(settings, id)}`);
    } else out.line(`no failover of ${site} yet (${spec.primary.name} is the configured primary)`);
    return { exitCode: EXIT.ok, report: { site, monitor: monitor ?? null, failover: failover ?? null, id: id ?? null, url: id ? workflowUrl(settings, id) : null } };
  });
}

export function failoverStartCommand(site: string, opts: FailoverStartOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const reason = checkReason(opts.reason) ?? '';
  return withSite(site, g, io, async (spec, t, settings) => {
    const trigger = triggerFromEnv(io.env, { key: opts.key });
    const id = sanitizeKey(trigger.key) ?? `manual-${compactTimestamp(io.now())}`;
    const workflowId = failoverWorkflowId(site, id);
    const url = workflowUrl(settings, workflowId);
    const running = await runningFailover(t, site);
    if (running && running !== workflowId) {
      throw new CliError(`a failover of ${site} is already running: ${running}; follow it with cutover failover status ${site}`, EXIT.refused, { id: running, url: workflowUrl(settings, running) });
    }
    const request: FailoverRequest = { spec, id, by: trigger.by, reason, acceptDataLoss: opts.acceptDataLoss === true };
    let handle: WorkflowHandle;
    try {
      handle = await t.client.workflow.start('failoverWorkflow', { taskQueue: TASK_QUEUE, workflowId, args: [request] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = t.client.workflow.getHandle(workflowId); // a retried job follows the same run
    }
    out.line(`failover of ${site} (${spec.primary.name} → ${spec.standby.name}) started by ${trigger.by}: ${workflowId}`);
    out.line(url);
    if (opts.wait !== true) return { exitCode: EXIT.ok, report: { id: workflowId, url, started: true } };
    return follow(handle, out, io, { id: workflowId, url });
  });
}

async function follow(handle: WorkflowHandle, out: Output, io: Io, base: { id: string; url: string }): Promise<Outcome> {
  let shown = 0;
  let done = false;
  const result = handle.result().finally(() => (done = true));
  result.catch(() => undefined);
  while (!done) {
    const s = await tryQuery(() => handle.query(failoverStateQuery));
    for (const st of s?.steps.filter((x) => x.ms !== null).slice(shown) ?? []) {
      out.line(`${st.step}: ${st.summary}`);
      shown++;
    }
    await Promise.race([result.catch(() => undefined), io.sleep(1000)]);
  }
  try {
    const r = (await result) as FailoverResult;
    for (const l of formatFailover(r)) out.line(l);
    return { exitCode: EXIT.ok, report: { ...base, result: r } };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as (Error & { type?: string }) | undefined;
    const message = causeChain(cause ?? err).join('; caused by: ');
    out.error(`failover failed: ${message}`);
    out.error(base.url);
    return { exitCode: exitOf(cause?.type), report: { ...base, failureType: cause?.type ?? null, error: message } };
  }
}

async function update<T>(t: TemporalConnection, fn: () => Promise<T>, base: { id: string; url: string }, out: Output, what: string): Promise<Outcome & { value?: T }> {
  try {
    const value = await t.connection.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, fn);
    return { exitCode: EXIT.ok, report: base, value };
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const reason = refusalReason(err);
      out.error(`${what} refused: ${reason}`);
      out.error(base.url);
      return { exitCode: EXIT.badInput, report: { ...base, refused: true, error: reason } };
    }
    if (err instanceof WorkflowNotFoundError) throw new CliError(`${what}: ${base.id} is not running`, EXIT.badInput, base);
    throw new CliError(`${what}: no answer from ${base.id}: ${causeChain(err).join('; ')}; ${NO_WORKER_HINT}`, EXIT.failed, base);
  }
}

export function failoverConfirmCommand(site: string, opts: { acceptDataLoss?: boolean }, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return withSite(site, g, io, async (_spec, t, settings) => {
    const id = monitorWorkflowId(site);
    const base = { id, url: workflowUrl(settings, id) };
    const by = triggerFromEnv(io.env).by;
    const r = await update(t, () => t.client.workflow.getHandle(id).executeUpdate(failoverConfirmUpdate, { args: [{ by, acceptDataLoss: opts.acceptDataLoss === true }] }), base, out, `confirm the failover of ${site}`);
    if (r.exitCode === EXIT.ok) {
      out.line(`failover of ${site} confirmed by ${by}; follow it with cutover failover status ${site}`);
      out.line(base.url);
    }
    return { exitCode: r.exitCode, report: { ...r.report, ...(r.value ? { monitor: r.value } : {}) } };
  });
}

export function failoverAbortCommand(site: string, opts: { reason?: string }, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const reason = checkReason(opts.reason);
  return withSite(site, g, io, async (_spec, t, settings) => {
    const id = await runningFailover(t, site);
    if (!id) throw new CliError(`no failover of ${site} is running; nothing to abort`, EXIT.badInput, { site });
    const base = { id, url: workflowUrl(settings, id) };
    const by = triggerFromEnv(io.env).by;
    const r = await update(t, () => t.client.workflow.getHandle(id).executeUpdate(failoverAbortUpdate, { args: [{ by, ...(reason ? { reason } : {}) }] }), base, out, `abort the failover of ${site}`);
    if (r.exitCode === EXIT.ok) {
      out.line(`abort of ${id} accepted from ${by}: it stops before promotion and undoes the fence`);
      out.line(base.url);
    }
    return { exitCode: r.exitCode, report: { ...r.report, ...(r.value ? { failover: r.value } : {}) } };
  });
}

/** Start the monitor entity of a site (idempotent: a running monitor is left as it is). */
export function failoverMonitorCommand(site: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return withSite(site, g, io, async (spec, t, settings) => {
    const id = monitorWorkflowId(site);
    const url = workflowUrl(settings, id);
    let started = true;
    try {
      await t.client.workflow.start('monitorWorkflow', { taskQueue: TASK_QUEUE, workflowId: id, args: [{ spec }] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      started = false;
    }
    out.line(`${started ? 'started' : 'already running'}: monitor of ${site}, probing ${spec.probe.url} every ${spec.probe.intervalMs / 1000} s (${spec.probe.failures} failures open an incident${spec.auto ? ' and fail over' : ''})`);
    out.line(url);
    return { exitCode: EXIT.ok, report: { id, url, started } };
  });
}

/** `cutover failback <site>`: re-seed the old primary from the promoted standby, then fail over back to it. */
export function failbackCommand(site: string, opts: { key?: string; wait?: boolean; reason?: string }, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const reason = checkReason(opts.reason) ?? '';
  return withSite(site, g, io, async (spec, t, settings) => {
    const trigger = triggerFromEnv(io.env, { key: opts.key });
    const id = sanitizeKey(trigger.key) ?? `manual-${compactTimestamp(io.now())}`;
    const workflowId = failbackWorkflowId(site, id);
    const url = workflowUrl(settings, workflowId);
    const running = await runningFailover(t, site);
    if (running) throw new CliError(`a failover of ${site} is running: ${running}; wait for it to end`, EXIT.refused, { id: running, url: workflowUrl(settings, running) });
    const request: FailoverRequest = { spec, id, by: trigger.by, reason, acceptDataLoss: false };
    let handle: WorkflowHandle;
    try {
      handle = await t.client.workflow.start('failbackWorkflow', { taskQueue: TASK_QUEUE, workflowId, args: [request] });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      handle = t.client.workflow.getHandle(workflowId);
    }
    out.line(`failback of ${site} (${spec.standby.name} → ${spec.primary.name}) started by ${trigger.by}: ${workflowId}`);
    out.line(url);
    if (opts.wait !== true) return { exitCode: EXIT.ok, report: { id: workflowId, url, started: true } };
    try {
      const r = (await handle.result()) as FailbackResult;
      out.line(`${spec.primary.name} ${r.reseeded ? 're-seeded' : 'was already a standby'}; caught up in ${(r.catchUpMs / 1000).toFixed(1)} s`);
      for (const l of formatFailover(r.failover)) out.line(l);
      return { exitCode: EXIT.ok, report: { id: workflowId, url, result: r } };
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      let cause: unknown = err.cause;
      while (cause instanceof Error && cause.name !== 'ApplicationFailure' && cause.cause) cause = cause.cause;
      const type = (cause as { type?: string } | undefined)?.type;
      const message = causeChain(err.cause ?? err).join('; caused by: ');
      out.error(`failback failed: ${message}`);
      out.error(url);
      return { exitCode: exitOf(type), report: { id: workflowId, url, failureType: type ?? null, error: message } };
    }
  });
}
