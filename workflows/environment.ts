// The environment entity, one per (app, env), ID env/<app>/<env>: the one place that knows
// what is live, what is still alive for rollback and what is queued. It admits requests, runs
// one operation at a time as a child workflow (the strategy's deploy, a rollback, the
// teardown of the old colour) and records how it went. It calls no activity itself; it owns
// the teardown timer, so a deploy or rollback inside the window drops it at once.
import {
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  setHandler,
  workflowInfo,
  allHandlersFinished,
  log,
  patched,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { z } from 'zod';
import {
  cancelUpdate,
  canaryProgressSignal,
  deployGateSignal,
  deploySignal,
  rollbackSignal,
  stateQuery,
  type EnvState,
  type FinishedOperation,
  type Outcome,
  type PreviousColor,
  type QueuedOperation,
} from '../contract/api';
import { outermostFailureType } from '../contract/failures';
import { childWorkflowIds, DEFAULT_SCHEDULE_NOTICE_MS, deployRequestSchema, rollbackRequestSchema, type DeployRequest, type RollbackRequest } from '../contract/requests';
import { SA } from '../contract/search-attributes';
import { upgradeLegacyPlan, type Plan } from '../contract/spec';
import { rollbackWorkflow } from './rollback';
import { reasonOf } from './steps/journal';
import { hostNames } from './steps/hosts';
import { OperationMetrics } from './steps/metrics';
import { teardownOps } from './steps/teardown';
import { strategies } from './strategies';
import { teardownWorkflow } from './teardown';

export interface EnvironmentInput {
  app: string;
  env: string;
  /** Set by continue-as-new. */
  carried?: { state: EnvState; requests: Record<string, DeployRequest | RollbackRequest> };
}

const KEEP_RECENT = 50;
const KEEP_REJECTED = 20;
const MAX_HISTORY_EVENTS = 5_000;

export async function environmentWorkflow(input: EnvironmentInput): Promise<void> {
  const state: EnvState = carriedState(input) ?? {
    app: input.app,
    env: input.env,
    live: null,
    previous: null,
    running: null,
    queue: [],
    scheduled: [],
    recent: [],
    rejected: [],
    plan: null,
  };
  const requests = new Map<string, DeployRequest | RollbackRequest>(
    Object.entries(input.carried?.requests ?? {}).map(([id, r]) => [id, { ...r, plan: upgradeLegacyPlan(r.plan) as Plan }]),
  );
  let deployScope: CancellationScope | null = null;
  const metrics = new OperationMetrics(input.app, input.env);
  let cancelledDeploy: string | undefined;
  /** The running deploy keeps `previous` until it reports it is past its gates (deploys started before that drop it at once). */
  let previousKeptUntilGates = false;
  /** Who cancelled the running deploy with `cutover cancel`, for its record. */
  let cancelledBy: string | undefined;

  const known = (id: string): boolean =>
    state.running?.id === id ||
    state.queue.some((q) => q.id === id) ||
    state.scheduled.some((q) => q.id === id) ||
    state.recent.some((r) => r.id === id);
  const reject = (id: unknown, reason: string): void => {
    state.rejected.unshift({ id: typeof id === 'string' ? id : '(no id)', reason, at: Date.now() });
    state.rejected.length = Math.min(state.rejected.length, KEEP_REJECTED);
    log.warn('request rejected', { id, reason });
    metrics.rejected();
  };
  /**
   * Validate a request again (the CLI did once) and make sure it is for this environment.
   * Returns it when it is new; a retried trigger whose id is already known is dropped silently.
   */
  function admit<R extends DeployRequest | RollbackRequest>(raw: unknown, schema: z.ZodType<R>, idOf: (r: R) => string, rawId: unknown): R | null {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      reject(rawId, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      return null;
    }
    const req = parsed.data;
    const { app, env } = req.plan;
    if (app !== state.app || env !== state.env) {
      reject(idOf(req), `request is for ${app}/${env}, this is ${state.app}/${state.env}`);
      return null;
    }
    if (known(idOf(req))) return null;
    requests.set(idOf(req), req);
    return req;
  }

  setHandler(stateQuery, () => state);

  setHandler(deploySignal, (raw) => {
    const req = admit(raw, deployRequestSchema, (r) => r.deployId, raw?.deployId);
    if (!req) return;
    const op: QueuedOperation = {
      kind: 'deploy',
      id: req.deployId,
      version: req.version,
      by: req.trigger.by,
      strategy: req.plan.strategy.kind,
      ...(req.scheduledFor ? { scheduledFor: req.scheduledFor } : {}),
      ...(req.breakGlass ? { breakGlass: req.breakGlass.reason } : {}),
    };
    // A deploy scheduled for later waits here until its notice time, then queues like any other.
    if (op.scheduledFor && noticeAt(op) > Date.now()) {
      state.scheduled.push(op);
      state.scheduled.sort((a, b) => noticeAt(a) - noticeAt(b));
    } else state.queue.push(op);
  });

  setHandler(canaryProgressSignal, ({ deployId, canary }) => {
    if (state.running?.id === deployId) state.running.canary = canary;
  });

  setHandler(deployGateSignal, ({ deployId, gate }) => {
    if (state.running?.id !== deployId) return;
    state.running.gate = gate;
    if (gate.phase === 'passed') state.running.changing = true;
    // It is about to change the hosts: the colour kept for rollback is the idle slot it goes into.
    if (gate.phase === 'passed' && previousKeptUntilGates && state.previous) {
      log.info('deploy inside the teardown window: the old colour is stopped by the deploy', { previous: state.previous });
      state.previous = null;
    }
  });

  /** A deploy still waiting at its gates has changed nothing: it may be cancelled, or a rollback may go past it. */
  const waitingAtGates = (op: QueuedOperation | null): boolean =>
    op?.kind === 'deploy' && op.gate !== undefined && op.gate.phase !== 'passed' && op.changing !== true;

  setHandler(
    cancelUpdate,
    ({ id, by }) => {
      const why = `cancelled by ${by}`;
      for (const [list, was] of [
        [state.scheduled, 'scheduled'],
        [state.queue, 'queued'],
      ] as const) {
        const i = list.findIndex((op) => op.id === id);
        if (i >= 0) {
          const [op] = list.splice(i, 1);
          finish(op!, 'cancelled', why);
          return { cancelled: id, was };
        }
      }
      cancelledBy = why;
      deployScope?.cancel();
      return { cancelled: id, was: 'waiting' as const };
    },
    {
      validator: (req) => {
        if (typeof req?.by !== 'string' || req.by.length === 0 || req.by.length > 200) throw new Error('by: say who cancels, in at most 200 characters');
        const { id } = req;
        if (state.scheduled.some((op) => op.id === id) || state.queue.some((op) => op.id === id && op.kind === 'deploy')) return;
        const running = state.running;
        if (running && running.id === id) {
          if (waitingAtGates(running) && deployScope) return;
          throw new Error(`${id} is already changing the hosts; use cutover rollback${running.strategy === 'canary' ? ' or cutover abort' : ''} instead`);
        }
        const done = state.recent.find((op) => op.id === id);
        throw new Error(done ? `${id} already ${done.outcome}` : `no scheduled or queued deploy ${id} in ${state.app}/${state.env}`);
      },
    },
  );

  setHandler(rollbackSignal, (raw) => {
    const req = admit(raw, rollbackRequestSchema, (r) => r.rollbackId, raw?.rollbackId);
    if (!req) return;
    // A rollback is an emergency: it jumps the queue and cancels a deploy in flight.
    state.queue.unshift({ kind: 'rollback', id: req.rollbackId, by: req.trigger.by });
    if (state.running?.kind === 'deploy' && deployScope) {
      // A deploy still at its gates changed nothing: the rollback then goes back to the previous colour itself.
      if (!waitingAtGates(state.running)) cancelledDeploy = state.running.id;
      deployScope.cancel();
    }
  });

  const finish = (op: QueuedOperation, outcome: Outcome, reason?: string, failureType?: string): void => {
    const done: FinishedOperation = { ...op, outcome, at: Date.now(), ...(reason ? { reason } : {}), ...(failureType ? { failureType } : {}) };
    metrics.finished(done, state.plan);
    state.recent.unshift(done);
    state.recent.length = Math.min(state.recent.length, KEEP_RECENT);
    requests.delete(op.id);
  };

  async function deploy(op: QueuedOperation, request: DeployRequest): Promise<void> {
    // The colour waiting for teardown is the idle slot this deploy goes into: the deploy stops
    // it, and dropping `previous` drops its timer, so nothing later stops the new one. It is
    // dropped when the deploy says it is past its gates (a freeze or a schedule may hold it
    // for days, and a rollback must still work meanwhile); deploys started before that drop it here.
    previousKeptUntilGates = patched('previous-kept-until-gates');
    if (!previousKeptUntilGates) {
      if (state.previous) log.info('new deploy inside the teardown window: the old colour is stopped by the deploy', { previous: state.previous });
      state.previous = null;
    }
    state.plan = request.plan;
    deployScope = new CancellationScope();
    const strategy = strategies[request.plan.strategy.kind];
    try {
      const result = await deployScope.run(() =>
        executeChild(strategy.workflow, {
          workflowId: op.id,
          args: [{ request }],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          staticSummary: `${strategy.label} deploy of ${request.version} to ${state.app}/${state.env} by ${request.trigger.by}`,
          memo: { plan: planMemo(request.plan), trigger: request.trigger },
          typedSearchAttributes: [
            { key: SA.app, value: state.app },
            { key: SA.env, value: state.env },
            { key: SA.version, value: request.version },
            { key: SA.strategy, value: strategy.label },
            { key: SA.phase, value: 'starting' },
            { key: SA.triggeredBy, value: request.trigger.by },
          ],
        }),
      );
      state.live = { color: result.color, version: result.version, deployId: op.id };
      if (result.previous) {
        state.previous = {
          ...result.previous,
          teardownAt: Date.now() + request.plan.teardownDelayMs,
          replacedBy: op.id,
          slackThread: result.slackThread,
        };
      }
      finish(op, 'succeeded');
    } catch (err) {
      finish(op, isCancellation(err) ? 'cancelled' : 'failed', (isCancellation(err) ? cancelledBy : undefined) ?? reasonOf(err), outermostFailureType(err));
    } finally {
      cancelledBy = undefined;
      deployScope = null;
    }
  }

  async function rollback(op: QueuedOperation, request: RollbackRequest): Promise<void> {
    state.plan = request.plan;
    const cancelled = cancelledDeploy;
    cancelledDeploy = undefined;
    try {
      const result = await executeChild(rollbackWorkflow, {
        workflowId: op.id,
        args: [{ request, live: state.live, previous: state.previous, ...(cancelled ? { cancelledDeploy: cancelled } : {}) }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `rollback of ${state.app}/${state.env} by ${request.trigger.by}`,
        typedSearchAttributes: [
          { key: SA.app, value: state.app },
          { key: SA.env, value: state.env },
          { key: SA.strategy, value: 'rollback' },
          { key: SA.phase, value: 'starting' },
          { key: SA.triggeredBy, value: request.trigger.by },
        ],
      });
      if (!result.cancelledDeploy) {
        state.live = { color: result.color, version: result.version, deployId: op.id };
        state.previous = null;
      }
      finish(op, 'succeeded');
    } catch (err) {
      finish(op, 'failed', reasonOf(err), outermostFailureType(err));
    }
  }

  /** The old colour's window closed: stop it, in a child of its own (inline in environments started before that). */
  async function teardown(prev: PreviousColor, plan: Plan): Promise<void> {
    const op: QueuedOperation = { kind: 'teardown', id: `${prev.replacedBy}:teardown`, version: prev.version, by: 'cutover' };
    state.running = op;
    try {
      const result = patched('teardown-child')
        ? await executeChild(teardownWorkflow, {
            workflowId: childWorkflowIds.teardown(prev.replacedBy),
            args: [{ plan, previous: prev }],
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            staticSummary: `teardown of ${prev.color} (${prev.version}) in ${state.app}/${state.env}, replaced by ${prev.replacedBy}`,
            typedSearchAttributes: [
              { key: SA.app, value: state.app },
              { key: SA.env, value: state.env },
              { key: SA.version, value: prev.version },
              { key: SA.strategy, value: 'teardown' },
              { key: SA.triggeredBy, value: 'cutover' },
            ],
          })
        : await teardownOps(plan, prev, op.id);
      finish(op, result.outcome, result.reason);
    } catch (err) {
      finish(op, 'failed', reasonOf(err));
    } finally {
      state.previous = null;
      state.running = null;
    }
  }

  /** When a scheduled deploy is queued: its notice time (its deploy then posts the notice and waits for its time). */
  function noticeAt(op: QueuedOperation): number {
    const notice = requests.get(op.id)?.plan.scheduleNoticeMs ?? DEFAULT_SCHEDULE_NOTICE_MS;
    return (op.scheduledFor?.at ?? 0) - notice;
  }

  function queueDueScheduled(): void {
    while (state.scheduled[0] && noticeAt(state.scheduled[0]) <= Date.now()) state.queue.push(state.scheduled.shift()!);
  }

  /**
   * Wait for queued work. While the old colour waits for teardown, or a deploy is scheduled,
   * that wait is a visible timer until the earlier of the two.
   */
  async function waitForWork(): Promise<void> {
    const prev = state.previous;
    const next = state.scheduled[0];
    const changed = (): boolean => state.queue.length > 0 || state.previous !== prev || state.scheduled[0] !== next;
    const keepSummary = (p: PreviousColor): string => `keep ${p.color} (${p.version}) for rollback, then stop it`;
    if (!next) {
      if (!prev) return condition(changed);
      const left = prev.teardownAt - Date.now();
      const woke = left > 0 && (await condition(changed, left, { summary: keepSummary(prev) }));
      if (!woke && state.previous === prev && state.plan) await teardown(prev, state.plan);
      return;
    }
    const teardownFirst = prev !== null && prev.teardownAt <= noticeAt(next);
    const left = (teardownFirst ? prev.teardownAt : noticeAt(next)) - Date.now();
    const summary = teardownFirst ? keepSummary(prev) : `deploy of ${next.version} by ${next.by} scheduled for ${next.scheduledFor?.text}`;
    const woke = left > 0 && (await condition(changed, left, { summary }));
    if (!woke && teardownFirst && state.previous === prev && state.plan) await teardown(prev, state.plan);
  }

  const historyIsLong = (): boolean =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS;

  while (!(historyIsLong() && state.queue.length === 0)) {
    queueDueScheduled();
    const op = state.queue.shift();
    if (!op) {
      await waitForWork();
      continue;
    }
    const request = requests.get(op.id);
    if (!request) {
      finish(op, 'failed', 'request lost');
      continue;
    }
    state.running = op;
    metrics.started(op);
    if (op.kind === 'deploy' && 'deployId' in request) await deploy(op, request);
    else if (op.kind === 'rollback' && 'rollbackId' in request) await rollback(op, request);
    state.running = null;
  }

  await condition(allHandlersFinished);
  await continueAsNew<typeof environmentWorkflow>({
    app: state.app,
    env: state.env,
    carried: { state, requests: Object.fromEntries(requests) },
  });
}

/** State carried over by continue-as-new; plans from before the seams are read in today's shape. */
function carriedState(input: EnvironmentInput): EnvState | undefined {
  const carried = input.carried?.state;
  if (!carried) return undefined;
  return { ...carried, scheduled: carried.scheduled ?? [], plan: carried.plan ? (upgradeLegacyPlan(carried.plan) as Plan) : null };
}

/**
 * What the Temporal UI shows of a deploy's plan: enough to tell what it does and where, under
 * the memo's size limit (the whole plan, with a canary's queries, is over it).
 */
function planMemo(plan: Plan): Record<string, unknown> {
  const { strategy } = plan;
  return {
    hosts: plan.platform.kind === 'ssh' ? plan.platform.hosts.map((h) => `${h.name} (${h.address})`) : hostNames(plan),
    router: plan.router.kind,
    strategy: strategy.kind === 'canary' ? { kind: 'canary', steps: strategy.steps, metrics: strategy.analysis.metrics.map((m) => m.name), intervalMs: strategy.analysis.intervalMs } : strategy,
    teardownDelayMs: plan.teardownDelayMs,
  };
}
