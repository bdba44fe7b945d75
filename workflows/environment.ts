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
  canaryProgressSignal,
  deploySignal,
  rollbackSignal,
  stateQuery,
  type EnvState,
  type FinishedOperation,
  type Outcome,
  type PreviousColor,
  type QueuedOperation,
} from '../contract/api';
import { childWorkflowIds, deployRequestSchema, rollbackRequestSchema, type DeployRequest, type RollbackRequest } from '../contract/requests';
import { SA } from '../contract/search-attributes';
import { upgradeLegacyPlan, type Plan } from '../contract/spec';
import { rollbackWorkflow } from './rollback';
import { reasonOf } from './steps/journal';
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

  const known = (id: string): boolean =>
    state.running?.id === id || state.queue.some((q) => q.id === id) || state.recent.some((r) => r.id === id);
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
    if (req) state.queue.push({ kind: 'deploy', id: req.deployId, version: req.version, by: req.trigger.by, strategy: req.plan.strategy.kind });
  });

  setHandler(canaryProgressSignal, ({ deployId, canary }) => {
    if (state.running?.id === deployId) state.running.canary = canary;
  });

  setHandler(rollbackSignal, (raw) => {
    const req = admit(raw, rollbackRequestSchema, (r) => r.rollbackId, raw?.rollbackId);
    if (!req) return;
    // A rollback is an emergency: it jumps the queue and cancels a deploy in flight.
    state.queue.unshift({ kind: 'rollback', id: req.rollbackId, by: req.trigger.by });
    if (state.running?.kind === 'deploy' && deployScope) {
      cancelledDeploy = state.running.id;
      deployScope.cancel();
    }
  });

  const finish = (op: QueuedOperation, outcome: Outcome, reason?: string): void => {
    const done: FinishedOperation = { ...op, outcome, at: Date.now(), ...(reason ? { reason } : {}) };
    metrics.finished(done, state.plan);
    state.recent.unshift(done);
    state.recent.length = Math.min(state.recent.length, KEEP_RECENT);
    requests.delete(op.id);
  };

  async function deploy(op: QueuedOperation, request: DeployRequest): Promise<void> {
    // The colour waiting for teardown is the idle slot this deploy goes into: the deploy stops
    // it first, and dropping `previous` here drops its timer, so nothing later stops the new one.
    if (state.previous) log.info('new deploy inside the teardown window: the old colour is stopped by the deploy', { previous: state.previous });
    state.previous = null;
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
      metrics.failed(op.id, err);
      finish(op, isCancellation(err) ? 'cancelled' : 'failed', reasonOf(err));
    } finally {
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
      finish(op, 'failed', reasonOf(err));
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

  /** Wait for queued work; while the old colour waits for teardown, that wait is a visible timer. */
  async function waitForWork(): Promise<void> {
    const prev = state.previous;
    if (!prev) return condition(() => state.queue.length > 0);
    const left = prev.teardownAt - Date.now();
    const woke =
      left > 0 &&
      (await condition(() => state.queue.length > 0 || state.previous !== prev, left, {
        summary: `keep ${prev.color} (${prev.version}) for rollback, then stop it`,
      }));
    if (!woke && state.previous === prev && state.plan) await teardown(prev, state.plan);
  }

  const historyIsLong = (): boolean =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS;

  while (!(historyIsLong() && state.queue.length === 0)) {
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
  return { ...carried, plan: carried.plan ? (upgradeLegacyPlan(carried.plan) as Plan) : null };
}

/**
 * What the Temporal UI shows of a deploy's plan: enough to tell what it does and where, under
 * the memo's size limit (the whole plan, with a canary's queries, is over it).
 */
function planMemo(plan: Plan): Record<string, unknown> {
  const { strategy } = plan;
  return {
    hosts: plan.platform.hosts.map((h) => `${h.name} (${h.address})`),
    router: plan.router.kind,
    strategy: strategy.kind === 'canary' ? { kind: 'canary', steps: strategy.steps, metrics: strategy.analysis.metrics.map((m) => m.name), intervalMs: strategy.analysis.intervalMs } : strategy,
    teardownDelayMs: plan.teardownDelayMs,
  };
}
