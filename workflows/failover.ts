// The disaster-recovery failover, `failover/<site>/<id>`: fence the old primary, gate on the
// standby's lag, promote it, start the standby's app servers, repoint DNS, smoke-test through
// the new answer, declare. Each step is one activity, safe to retry. Before promotion a
// failure or `cutover failover abort` puts back what it changed (the fence's undo); from
// promotion on the run only goes forward: the promoted standby is the one database that may
// take writes, so a failed later step fails the run with what is done, and a new run (its
// steps are idempotent) continues from there.
import { ApplicationFailure, condition, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  FAILOVER_FAILURE,
  failoverAbortUpdate,
  failoverRequestSchema,
  failoverStateQuery,
  type FailoverRequest,
  type FailoverResult,
  type FailoverState,
  type FailoverStep,
  type StepRecord,
} from '../contract/failover';
import { ACTIVITY_ERROR } from '../contract/failures';
import { SA } from '../contract/search-attributes';
import { dbOps, dnsOps, siteOps } from './steps/failover-activities';
import { Journal, reasonOf } from './steps/journal';
import { judgeLag } from './steps/lag-gate';
import { Saga } from './steps/saga';

/** How long the lag gate lets the standby replay what it already received before judging. */
const CATCH_UP_TRIES = 20;
const CATCH_UP_EVERY_MS = 500;
const APP_HEALTH_TIMEOUT_MS = 5 * 60_000;

export async function failoverWorkflow(raw: FailoverRequest): Promise<FailoverResult> {
  const parsed = failoverRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw ApplicationFailure.create({ type: ACTIVITY_ERROR.unsafeInput, nonRetryable: true, message: `failover request: ${why}` });
  }
  const req = parsed.data;
  const { spec } = req;
  const { primary, standby, gates } = spec;
  const startedAt = Date.now();
  const state: FailoverState = { site: spec.site, from: primary.name, to: standby.name, phase: 'fence', steps: [], warnings: [], rpo: null, promoted: false };
  const journal = new Journal(spec.slack?.channel, workflowInfo().workflowId, { app: spec.site, env: standby.name, enabled: spec.audit === true, operation: 'failover', version: null, actor: req.by });
  journal.record('requested', { message: `failover of ${spec.site} from ${primary.name} to ${standby.name} by ${req.by}`, detail: { reason: req.reason ?? null } });
  const saga = new Saga();
  let promoting = false;
  let abort: { by: string; reason?: string } | null = null;

  upsertSearchAttributes([
    { key: SA.app, value: spec.site },
    { key: SA.env, value: standby.name },
    { key: SA.strategy, value: 'failover' },
    { key: SA.triggeredBy, value: req.by },
  ]);
  setHandler(failoverStateQuery, () => state);
  setHandler(
    failoverAbortUpdate,
    (a) => {
      abort ??= a;
      return state;
    },
    {
      validator: (_request) => {
        if (promoting) throw new Error(`${standby.name} is ${state.promoted ? 'promoted' : 'being promoted'}: the failover can only go forward now (use cutover failback to go back)`);
      },
    },
  );

  const checkAbort = (): void => {
    if (!abort) return;
    throw ApplicationFailure.create({ type: FAILOVER_FAILURE.aborted, nonRetryable: true, message: `aborted by ${abort.by}${abort.reason ? `: ${abort.reason}` : ''}` });
  };
  const warn = async (text: string): Promise<void> => {
    state.warnings.push(text);
    await journal.notify(`warning-${state.warnings.length}`, `:warning: ${text}`);
  };
  const step = async <T>(name: FailoverStep, fn: () => Promise<{ value: T; summary: string }>): Promise<T> => {
    if (!promoting) checkAbort();
    const rec: StepRecord = { step: name, startedAt: Date.now(), ms: null, summary: 'running' };
    state.phase = name;
    state.steps.push(rec);
    journal.step(name, `${name}: running`);
    const { value, summary } = await fn();
    rec.ms = Date.now() - rec.startedAt;
    rec.summary = summary;
    journal.step(name, summary);
    return value;
  };

  await journal.open(`:rotating_light: failover of ${spec.site}: ${primary.name} → ${standby.name}, started by ${req.by}${req.reason ? ` (${req.reason})` : ''}`);

  try {
    // 1. Fence: the old primary must refuse writes before anything else takes them.
    const fence = await step('fence', async () => {
      const deadline = Date.now() + gates.unreachablePrimary.waitMs;
      for (;;) {
        const r = await dbOps.pgFence.executeWithOptions({ summary: `fence ${primary.name}: stop its PostgreSQL on ${primary.fence.host.name}` }, [{ fence: primary.fence, database: primary.database }]);
        if (r.reachable) {
          saga.push(`start ${primary.name}'s database again`, async () => {
            // fence.dataDir is newer than every recorded history, so this condition replays as before.
            if (primary.fence.undo || primary.fence.dataDir) await dbOps.pgUnfence.executeWithOptions({ summary: `undo the fence: start ${primary.name}'s PostgreSQL again` }, [{ fence: primary.fence, database: primary.database }]);
          });
          return { value: r, summary: `fenced ${primary.name}: ${r.detail}` };
        }
        if (Date.now() >= deadline) {
          if (gates.unreachablePrimary.then === 'fail') {
            throw ApplicationFailure.create({
              type: FAILOVER_FAILURE.notFenced,
              nonRetryable: true,
              message: `cannot fence ${primary.name}: ${r.detail}; tried for ${Math.round(gates.unreachablePrimary.waitMs / 1000)} s (gates.unreachablePrimary.then: fail); nothing was promoted`,
            });
          }
          await warn(
            `${primary.name} was NOT fenced (${r.detail}); proceeding as gates.unreachablePrimary.then says. ${r.refusesWrites ? 'Its database did not answer either.' : 'ITS DATABASE STILL ACCEPTS WRITES: stop it by hand now.'}`,
          );
          return { value: r, summary: `NOT fenced: ${r.detail}` };
        }
        if (await condition(() => abort !== null, Math.min(5000, deadline - Date.now()))) checkAbort();
      }
    });

    // 2. Lag gate: what the standby has not replayed is what promotion loses.
    await step('lag-gate', async () => {
      const readLag = () => dbOps.pgLag.executeWithOptions({ summary: `replication lag of ${standby.name}` }, [{ standby: standby.database, lastPrimaryLsn: fence.lastPrimaryLsn }]);
      let lag = await readLag();
      for (let i = 1; i < CATCH_UP_TRIES && !judgeLag(lag, gates, false).pass; i++) {
        if (await condition(() => abort !== null, CATCH_UP_EVERY_MS)) checkAbort();
        lag = await readLag();
      }
      state.rpo = { bytes: lag.bytes, seconds: lag.seconds };
      const verdict = judgeLag(lag, gates, req.acceptDataLoss);
      if (!verdict.pass) throw ApplicationFailure.create({ type: FAILOVER_FAILURE.lagTooHigh, nonRetryable: true, message: `${standby.name} is ${verdict.reason}` });
      if (verdict.warning) await warn(verdict.warning);
      const against = lag.against ? ` against ${lag.against.source} position ${lag.against.lsn}` : '';
      return { value: lag, summary: `${standby.name} lag ${lag.bytes ?? '?'} bytes, ${lag.seconds ?? '?'} s${against} (RPO estimate)` };
    });

    // 3. Promote: from here on there is no way back.
    checkAbort();
    promoting = true;
    await step('promote', async () => {
      const r = await dbOps.pgPromote.executeWithOptions({ summary: `promote ${standby.name}'s PostgreSQL and write to it` }, [{ standby: standby.database, failoverId: req.id }]);
      state.promoted = true;
      return { value: r, summary: `${r.promoted ? `promoted ${standby.name} in ${r.ms} ms` : `${standby.name} was already promoted`}; it took a write (check row ${r.writeCheckId})` };
    });
    await journal.notify('promoted', `${standby.name}'s database is the primary now and takes writes`);

    // 4. Scale the standby site's app servers (SSH hosts, or Vultr instances whose IPs DNS may take).
    const servers = standby.appServers;
    const addresses = await step('scale', async () => {
      if (servers.kind === 'ssh') {
        const r = await siteOps.appServersStart.executeWithOptions({ summary: `start ${standby.name}'s app servers` }, [{ servers, healthTimeoutMs: APP_HEALTH_TIMEOUT_MS }]);
        return { value: [] as string[], summary: `started ${r.hosts.map((h) => `${h.name} (healthy after ${h.healthyAfterMs} ms)`).join(', ')}` };
      }
      const r = await siteOps.vultrScale.executeWithOptions({ summary: `${servers.count} Vultr instance(s) tagged ${servers.tag} in ${servers.region}` }, [{ servers, healthTimeoutMs: APP_HEALTH_TIMEOUT_MS }]);
      return {
        value: r.instances.map((i) => i.mainIp),
        summary: `${r.created} Vultr instance(s) created, ${r.reused} reused: ${r.instances.map((i) => `${i.label} ${i.mainIp} (healthy after ${i.healthyAfterMs} ms)`).join(', ')}`,
      };
    });
    const content = standby.dnsContent.length > 0 ? standby.dnsContent : addresses;

    // 5. DNS: point users at the standby and check the DNS server answers so.
    const dns = await step('dns', async () => {
      const summary = { summary: `point ${spec.dns.name} at ${standby.name}` };
      const r =
        spec.dns.kind === 'powerdns'
          ? await dnsOps.dnsRepoint.executeWithOptions(summary, [{ dns: spec.dns, content }])
          : await dnsOps.vultrDnsRepoint.executeWithOptions(summary, [{ dns: spec.dns, content }]);
      return { value: r, summary: `${spec.dns.name} ${spec.dns.type} answers ${r.answer.join(', ')} (was ${r.previous.join(', ') || 'nothing'}), TTL ${spec.dns.ttlSeconds} s` };
    });

    // 6. Smoke tests through the new DNS answer, then the error rate for a while.
    await step('smoke', async () => {
      const r = await siteOps.smokeTest.executeWithOptions({ summary: `smoke-test ${spec.smoke.url} through the new DNS answer` }, [{ smoke: spec.smoke, dns: spec.dns }]);
      return { value: r, summary: `${r.requests} requests to ${r.resolved.join(', ')}: ${r.errors} failed (${(r.errorRate * 100).toFixed(1)}%)` };
    });

    // 7. Declare, once the old primary is checked to be still fenced: a host that started its
    // PostgreSQL again meanwhile (a reboot, a supervisor) is stopped again, loudly.
    const rtoMs = Date.now() - (req.detectedAt ?? startedAt);
    await step('declare', async () => {
      const again = await dbOps.pgFence.executeWithOptions({ summary: `check ${primary.name} is still fenced` }, [{ fence: primary.fence, database: primary.database }]);
      if (!again.reachable) {
        if (fence.reachable) await warn(`could not check that ${primary.name} is still fenced: ${again.detail}`);
      } else if (again.lastPrimaryLsn !== null) {
        await warn(`${primary.name}'s database came back during the failover (at ${again.lastPrimaryLsn}) and was stopped again; check it for writes made there`);
      }
      // Up in recovery: it was restarted and the durable fence (standby.signal) kept it read-only.
      const cameBack = again.wasUp === 'read-only' ? ' (it had come back read-only: the standby.signal fence held; stopped again)' : '';
      const fenced = again.reachable ? `${primary.name} fenced${cameBack}` : `${primary.name} NOT fenced (unreachable)`;
      return { value: undefined, summary: `${spec.site} serves from ${standby.name}; ${fenced}; RTO ${Math.round(rtoMs / 1000)} s` };
    });
    state.phase = 'done';
    const rpo = state.rpo ? `RPO estimate ${state.rpo.bytes ?? '?'} bytes` : 'RPO unknown';
    journal.record('failed-over', { outcome: 'succeeded', message: `${standby.name} serves; RTO ${Math.round(rtoMs / 1000)} s, ${rpo}`, detail: { rtoMs, rpo: state.rpo, warnings: state.warnings } });
    await journal.open(`:white_check_mark: failover of ${spec.site} done: ${standby.name} serves; RTO ${Math.round(rtoMs / 1000)} s, ${rpo}${state.warnings.length ? `, ${state.warnings.length} warning(s)` : ''}`);
    return { ...state, rtoMs, dnsAnswer: dns.answer };
  } catch (err) {
    const reason = reasonOf(err);
    const at = state.phase;
    journal.record('failed', { message: `failover stopped at ${at}: ${reason}`, detail: { promoted: state.promoted, aborted: abort } });
    if (!state.promoted) {
      try {
        await saga.compensate();
      } catch (undoErr) {
        state.phase = 'failed';
        await journal.open(`:x: failover of ${spec.site} failed at ${at} and could not be undone: ${reasonOf(undoErr)}`);
        throw ApplicationFailure.create({ type: FAILOVER_FAILURE.failed, nonRetryable: true, message: `${at}: ${reason}; CLEANUP FAILED: ${reasonOf(undoErr)}` });
      }
      state.phase = abort ? 'aborted' : 'failed';
      await journal.open(`:x: failover of ${spec.site} ${abort ? 'aborted' : 'refused'} at ${at}: ${reason}; ${primary.name} is still the primary`);
      if (err instanceof ApplicationFailure && err.type && Object.values(FAILOVER_FAILURE).includes(err.type as never)) throw err;
      throw ApplicationFailure.create({ type: FAILOVER_FAILURE.failed, nonRetryable: true, message: `${at}: ${reason}; nothing promoted`, cause: err instanceof Error ? err : undefined });
    }
    state.phase = 'failed';
    await journal.open(`:x: failover of ${spec.site} stopped at ${at} after promoting ${standby.name}: ${reason}; run it again (its steps are safe to repeat)`);
    throw ApplicationFailure.create({
      type: FAILOVER_FAILURE.failed,
      nonRetryable: true,
      message: `${at}: ${reason}; ${standby.name} IS PROMOTED (it is the primary now): fix the cause and run cutover failover start ${spec.site} again`,
    });
  }
}
