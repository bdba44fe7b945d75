// The monitor of one service, `monitor/<site>` (an entity): probe the primary every interval.
// After `probe.failures` failures in a row it opens an incident (Slack, a page) and then starts
// the failover at once (`auto: true`) or when `cutover failover confirm` says so. A primary
// that answers again before the threshold resets the count and opens nothing; an open incident
// closes (Slack, the page resolved) once it answers as many probes in a row. It ends when the
// failover it started ends (the primary is elsewhere then); it continues as new before its
// history grows long.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  ParentClosePolicy,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  failoverConfirmUpdate,
  failoverWorkflowId,
  monitorRequestSchema,
  monitorStateQuery,
  type FailoverResult,
  type MonitorRequest,
  type MonitorState,
} from '../contract/failover';
import { ACTIVITY_ERROR } from '../contract/failures';
import { SA } from '../contract/search-attributes';
import { failoverWorkflow } from './failover';
import { pageOps, probeOps } from './steps/failover-activities';
import { Journal, reasonOf } from './steps/journal';

const PROBES_PER_RUN = 500;

export async function monitorWorkflow(raw: MonitorRequest): Promise<FailoverResult> {
  const parsed = monitorRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.create({ type: ACTIVITY_ERROR.unsafeInput, nonRetryable: true, message: `monitor request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
  }
  const { spec } = parsed.data;
  const state: MonitorState = {
    site: spec.site,
    primary: spec.primary.name,
    phase: 'watching',
    failuresInRow: parsed.data.failuresInRow ?? 0,
    threshold: spec.probe.failures,
    lastProbe: null,
    incident: parsed.data.incident ? { ...parsed.data.incident, failoverId: null } : null,
  };
  if (state.incident) state.phase = 'incident';
  let okInRow = 0;
  let firstFailureAt = parsed.data.firstFailureAt;
  let confirmed: { by: string; acceptDataLoss?: boolean } | null = null;
  const journal = new Journal(spec.slack?.channel, workflowInfo().workflowId, { app: spec.site, env: spec.primary.name, enabled: spec.audit === true, operation: 'monitor', version: null, actor: 'monitor' });

  upsertSearchAttributes([
    { key: SA.app, value: spec.site },
    { key: SA.env, value: spec.primary.name },
    { key: SA.strategy, value: 'monitor' },
  ]);
  setHandler(monitorStateQuery, () => state);
  setHandler(
    failoverConfirmUpdate,
    (c) => {
      confirmed ??= c;
      return state;
    },
    {
      validator: (request) => {
        if (spec.confirmers && !spec.confirmers.includes(request.by)) throw new Error(`${request.by} may not confirm a failover of ${spec.site} (confirmers: ${spec.confirmers.join(', ')})`);
        if (state.phase === 'watching') throw new Error(`no incident is open for ${spec.site} (${state.failuresInRow} of ${state.threshold} failed probes); to fail over anyway: cutover failover start ${spec.site}`);
        if (state.phase !== 'incident') throw new Error(`the failover of ${spec.site} is already ${state.phase}`);
      },
    },
  );

  for (let probes = 0; ; probes++) {
    if (state.phase === 'watching' || (state.phase === 'incident' && !spec.auto && !confirmed)) {
      const r = await probeOps.httpProbe.executeWithOptions({ summary: `probe ${spec.primary.name}` }, [spec.probe]);
      state.lastProbe = { at: Date.now(), ok: r.ok, detail: r.detail };
      okInRow = r.ok ? okInRow + 1 : 0;
      if (state.phase === 'incident') {
        if (okInRow >= state.threshold) await closeIncident(r.detail);
      } else if (r.ok) {
        state.failuresInRow = 0;
        firstFailureAt = undefined;
      } else {
        state.failuresInRow++;
        firstFailureAt ??= state.lastProbe.at - r.ms;
        journal.step('probe-failed', `${spec.primary.name}: probe ${state.failuresInRow} of ${state.threshold} failed: ${r.detail}`);
        if (state.failuresInRow >= state.threshold) await openIncident(r.detail);
      }
    }
    if (state.phase === 'incident' && (spec.auto || confirmed)) return await runFailover();
    if (!confirmed && (probes + 1 >= PROBES_PER_RUN || workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      if (!confirmed) {
        const incident = state.incident ? { openedAt: state.incident.openedAt, detectedAt: state.incident.detectedAt } : undefined;
        await continueAsNew<typeof monitorWorkflow>({ spec, failuresInRow: state.failuresInRow, ...(firstFailureAt !== undefined ? { firstFailureAt } : {}), ...(incident ? { incident } : {}) });
      }
    }
    // Confirmation wakes the monitor at once.
    await condition(() => confirmed !== null, spec.probe.intervalMs);
  }

  async function closeIncident(detail: string): Promise<void> {
    const incident = state.incident!;
    journal.step('recovered', `${spec.primary.name} answered ${okInRow} probes in a row (${detail}); incident closed, nothing failed over`);
    const text = `:white_check_mark: ${spec.site}'s primary ${spec.primary.name} recovered; incident closed without a failover`;
    await journal.notify(`recovered-${incident.detectedAt}`, text, text);
    await resolvePage(incident.detectedAt, `${spec.primary.name} recovered`);
    state.phase = 'watching';
    state.incident = null;
    state.failuresInRow = 0;
    firstFailureAt = undefined;
  }

  async function resolvePage(detectedAt: number, summary: string): Promise<void> {
    if (!spec.pagerDuty) return;
    try {
      await pageOps.pageIncident.executeWithOptions({ summary: 'resolve the page' }, [
        { pagerDuty: spec.pagerDuty, action: 'resolve', dedupKey: `cutover/${spec.site}/${detectedAt}`, summary, source: spec.probe.url },
      ]);
    } catch (err) {
      journal.step('incident', `resolving the page failed: ${reasonOf(err)}`);
    }
  }

  async function openIncident(detail: string): Promise<void> {
    const detectedAt = firstFailureAt ?? Date.now();
    state.phase = 'incident';
    state.incident = { openedAt: Date.now(), detectedAt, failoverId: null };
    const next = spec.auto ? 'failing over now (auto)' : `confirm with: cutover failover confirm ${spec.site}`;
    journal.step('incident', `${spec.primary.name} failed ${state.failuresInRow} probes in a row (${detail}); ${next}`);
    await journal.open(`:rotating_light: incident: ${spec.site}'s primary ${spec.primary.name} is down (${detail}); ${next}`);
    if (!spec.auto && patched('failover-confirm-button')) {
      const who = spec.confirmers ? ` (${spec.confirmers.join(', ')})` : '';
      await journal.notify(`confirm-${detectedAt}`, `Fail ${spec.site} over to ${spec.standby.name}? Confirm here${who} or: cutover failover confirm ${spec.site}`, undefined, undefined, {
        monitorId: workflowInfo().workflowId,
        site: spec.site,
        standby: spec.standby.name,
      });
    }
    if (spec.pagerDuty) {
      try {
        await pageOps.pageIncident.executeWithOptions({ summary: `page on-call` }, [{
          pagerDuty: spec.pagerDuty,
          action: 'trigger',
          dedupKey: `cutover/${spec.site}/${detectedAt}`,
          summary: `${spec.site}: primary ${spec.primary.name} failed ${state.failuresInRow} health probes in a row (${detail}); ${next}`,
          source: spec.probe.url,
        }]);
      } catch (err) {
        journal.step('incident', `the page failed: ${reasonOf(err)}`);
      }
    }
  }

  async function runFailover(): Promise<FailoverResult> {
    const incident = state.incident!;
    const id = `incident-${incident.detectedAt}`;
    incident.failoverId = failoverWorkflowId(spec.site, id);
    state.phase = 'failing-over';
    journal.step('failing-over', `starting ${incident.failoverId}`);
    const result = await executeChild(failoverWorkflow, {
      workflowId: incident.failoverId,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [
        {
          spec,
          id,
          by: confirmed?.by ?? 'monitor (auto)',
          reason: `${state.failuresInRow} failed probes of ${spec.probe.url}`,
          acceptDataLoss: confirmed?.acceptDataLoss ?? false,
          detectedAt: incident.detectedAt,
        },
      ],
    });
    state.phase = 'done';
    await resolvePage(incident.detectedAt, `failed over to ${spec.standby.name} (${incident.failoverId})`);
    await condition(allHandlersFinished);
    return result;
  }
}
