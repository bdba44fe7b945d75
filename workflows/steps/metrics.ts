// cutover's own metrics, emitted through the workflow's metric meter: the worker exports them
// on its Prometheus endpoint with the SDK's (CUTOVER_METRICS_ADDRESS), and the SDK drops them
// while a workflow replays, so a restarted worker never counts an operation twice.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, metricMeter } from '@temporalio/workflow';
import type { FinishedOperation, QueuedOperation } from '../../contract/api';
import { FAILURE } from '../../contract/failures';
import { METRIC } from '../../contract/metrics';
import type { Plan } from '../../contract/spec';
import { strategies } from '../strategies';

/** Failures a deploy ends with before it changed anything (its preflight): a refusal. */
const REFUSED_TYPES: ReadonlySet<string> = new Set([FAILURE.hostsDisagree, FAILURE.versionNotInstalled]);

/**
 * Why a deploy child was refused before it changed anything, or undefined if it failed later.
 * Every strategy turns a failure after its preflight into DeployFailed (or a canary end); only
 * the preflight lets a failure through as it is: a refusal type, or an activity's failure.
 */
export function refusalReason(err: unknown): string | undefined {
  const failure = err instanceof ChildWorkflowFailure ? err.cause : err;
  if (failure instanceof ApplicationFailure && failure.type && REFUSED_TYPES.has(failure.type)) return failure.type;
  if (failure instanceof ActivityFailure) {
    const cause = failure.cause;
    return cause instanceof ApplicationFailure && cause.type ? cause.type : 'ActivityFailed';
  }
  return undefined;
}

/** Counts and times the operations of one environment workflow. */
export class OperationMetrics {
  private readonly startedAt = new Map<string, number>();
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly app: string,
    private readonly env: string,
  ) {}

  started(op: QueuedOperation): void {
    this.startedAt.set(op.id, Date.now());
  }

  /** A deploy's failure: remembered when it is a refusal, for `finished`. */
  failed(id: string, err: unknown): void {
    const reason = refusalReason(err);
    if (reason) this.refused.set(id, reason);
  }

  /** A request the environment refused outright (bad input, wrong environment). */
  rejected(): void {
    metricMeter.createCounter(METRIC.refusals, 'operations', 'operations refused before anything changed').add(1, { app: this.app, env: this.env, reason: 'InvalidRequest' });
  }

  finished(done: FinishedOperation, plan: Plan | null): void {
    const refusal = this.refused.get(done.id);
    const outcome = refusal ? 'refused' : done.outcome;
    const kind = done.strategy ?? plan?.strategy.kind;
    // As the CutoverStrategy search attribute names it: blue-green, canary.
    const strategy = kind ? (strategies[kind]?.label ?? kind) : 'unknown';
    const tags = { app: this.app, env: this.env };
    const started = this.startedAt.get(done.id);
    this.startedAt.delete(done.id);
    this.refused.delete(done.id);
    if (refusal) metricMeter.createCounter(METRIC.refusals, 'operations', 'operations refused before anything changed').add(1, { ...tags, reason: refusal });
    if (done.kind === 'deploy') {
      metricMeter.createCounter(METRIC.deploys, 'deploys', 'deploys that ended, by outcome').add(1, { ...tags, strategy, outcome });
      if (started !== undefined) {
        metricMeter
          .createHistogram(METRIC.deployDuration, 'float', 'seconds', 'from the start of a deploy to its end')
          .record((done.at - started) / 1000, { ...tags, strategy, outcome });
      }
    } else if (done.kind === 'rollback') {
      metricMeter.createCounter(METRIC.rollbacks, 'rollbacks', 'rollbacks that ended, by outcome').add(1, { ...tags, strategy, outcome });
    } else {
      metricMeter.createCounter(METRIC.teardowns, 'teardowns', 'stops of the old colour after its window').add(1, { ...tags, outcome });
    }
  }
}
