// `cutover schedule create | list | pause | unpause | delete | trigger`: recurring deploys as
// Temporal Schedules (they show on the UI's Schedules page). Each firing starts
// scheduledDeployWorkflow, which requests a deploy of the version the source names, unless it
// is already live. The plan is read from cutover.yml when the schedule is created.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleSummary } from '@temporalio/client';
import { cronProblem, describeInstant, isValidTimezone } from '../activities/freeze/calendar';
import { resolvePlan } from '../config/load';
import { parseVersionSource, SA, SCHEDULE_PREFIX, scheduledWorkflowId, scheduleId, TASK_QUEUE, type ScheduledDeployInput } from '../contract';
import { checkNames, loadCliConfig, settingsWithoutPlan, type GlobalOptions } from './commands';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { connectTemporal, type TemporalConnection, type TemporalSettings } from './temporal';
import { triggerFromEnv } from './trigger';

/** A schedule that could not start its runs for a while (Temporal down) catches up on at most this much. */
const CATCHUP_WINDOW = '10 minutes';

export interface ScheduleCreateOptions {
  app: string;
  env: string;
  cron: string;
  timezone: string;
  versionFrom: string;
}

const schedulesUrl = (s: TemporalSettings, name?: string): string =>
  `${s.uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(s.namespace)}/schedules${name ? `/${encodeURIComponent(scheduleId(name))}` : ''}`;

async function withTemporal<T>(g: GlobalOptions, io: Io, fn: (t: TemporalConnection) => Promise<T>): Promise<T> {
  const t = await connectTemporal(await settingsWithoutPlan(g, io));
  try {
    return await fn(t);
  } finally {
    await t.close().catch(() => undefined);
  }
}

export async function scheduleCreateCommand(name: string, o: ScheduleCreateOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkNames({ name, app: o.app, env: o.env });
  const problem = cronProblem(o.cron);
  if (problem) throw new CliError(`--cron: ${JSON.stringify(o.cron)} is not a cron expression (${problem}); five fields, e.g. "0 3 * * 1-5"`, EXIT.badInput);
  if (!isValidTimezone(o.timezone)) throw new CliError(`--timezone: unknown time zone ${JSON.stringify(o.timezone)}; use an IANA name like Europe/Berlin`, EXIT.badInput);
  const versionFrom = parseVersionSource(o.versionFrom);
  if (!versionFrom) throw new CliError(`--version-from: expected "command:<command run on the first host>" or an http(s) URL, got ${JSON.stringify(o.versionFrom)}`, EXIT.badInput);
  const { config, file } = loadCliConfig(g, io);
  const plan = resolvePlan(config, o.app, o.env, file);
  const by = triggerFromEnv(io.env).by;
  const input: ScheduledDeployInput = { schedule: name, plan, versionFrom };
  return withTemporal(g, io, async (t) => {
    try {
      await t.client.schedule.create({
        scheduleId: scheduleId(name),
        spec: { cronExpressions: [o.cron], timezone: o.timezone },
        action: {
          type: 'startWorkflow',
          workflowType: 'scheduledDeployWorkflow',
          workflowId: scheduledWorkflowId(o.app, o.env, name),
          taskQueue: TASK_QUEUE,
          args: [input],
          staticSummary: `recurring deploy ${name} of ${o.app}/${o.env} (${o.cron} ${o.timezone})`,
          typedSearchAttributes: [
            { key: SA.app, value: o.app },
            { key: SA.env, value: o.env },
            { key: SA.strategy, value: 'schedule' },
            { key: SA.triggeredBy, value: `schedule:${name}` },
          ],
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW },
        memo: { app: o.app, env: o.env, cron: o.cron, timezone: o.timezone, versionFrom: o.versionFrom, createdBy: by },
        state: { note: `created by ${by} with cutover` },
      });
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new CliError(`schedule ${name} already exists; delete it first (cutover schedule delete ${name}) to change it`, EXIT.badInput);
      throw err;
    }
    const handle = t.client.schedule.getHandle(scheduleId(name));
    const next = (await handle.describe()).info.nextActionTimes.slice(0, 3).map((d) => describeInstant(d.getTime(), o.timezone));
    const url = schedulesUrl(t.settings, name);
    out.line(`schedule ${name} created by ${by}: deploys ${o.app}/${o.env} at "${o.cron}" (${o.timezone}) the version from ${o.versionFrom}`);
    out.line(`next: ${next.join(', ')}`);
    out.line(url);
    return { exitCode: EXIT.ok, report: { ok: true, name, id: scheduleId(name), next, url } };
  });
}

function describeSchedule(s: ScheduleSummary): Record<string, unknown> {
  const memo = s.memo ?? {};
  const last = s.info.recentActions.at(-1);
  return {
    name: s.scheduleId.slice(SCHEDULE_PREFIX.length),
    app: memo.app,
    env: memo.env,
    cron: memo.cron,
    timezone: memo.timezone,
    versionFrom: memo.versionFrom,
    paused: s.state.paused,
    next: s.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString()),
    lastRun: last ? { at: last.takenAt.toISOString(), workflowId: last.action.workflow.workflowId } : null,
  };
}

export async function scheduleListCommand(g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  return withTemporal(g, io, async (t) => {
    const found: Record<string, unknown>[] = [];
    for await (const s of t.client.schedule.list()) if (s.scheduleId.startsWith(SCHEDULE_PREFIX)) found.push(describeSchedule(s));
    found.sort((a, b) => String(a.name).localeCompare(String(b.name)));
    if (found.length === 0) out.line('no cutover schedules (cutover schedule create ...)');
    for (const s of found) {
      const next = (s.next as string[])[0];
      const tz = String(s.timezone ?? 'UTC');
      out.line(
        `${String(s.name).padEnd(16)} ${s.app}/${s.env}  "${s.cron}" ${tz}  ${s.paused ? 'PAUSED' : `next ${next ? describeInstant(Date.parse(next), tz) : 'never'}`}  version from ${s.versionFrom}`,
      );
    }
    out.line(schedulesUrl(t.settings));
    return { exitCode: EXIT.ok, report: { ok: true, schedules: found } };
  });
}

export type ScheduleAction = 'pause' | 'unpause' | 'delete' | 'trigger';

export async function scheduleActionCommand(action: ScheduleAction, name: string, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  checkNames({ name });
  const by = triggerFromEnv(io.env).by;
  return withTemporal(g, io, async (t) => {
    const handle = t.client.schedule.getHandle(scheduleId(name));
    try {
      if (action === 'pause') await handle.pause(`paused by ${by} with cutover`);
      else if (action === 'unpause') await handle.unpause(`unpaused by ${by} with cutover`);
      else if (action === 'delete') await handle.delete();
      else await handle.trigger();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule named ${name} (cutover schedule list shows them)`, EXIT.badInput);
      throw err;
    }
    const done = { pause: 'paused', unpause: 'unpaused', delete: 'deleted', trigger: 'triggered' }[action];
    const url = schedulesUrl(t.settings, action === 'delete' ? undefined : name);
    out.line(`schedule ${name} ${done} by ${by}`);
    out.line(url);
    return { exitCode: EXIT.ok, report: { ok: true, name, action, by, url } };
  });
}
