// cutover's own metrics, emitted through the workflow's metric meter: the worker exports them
// on its Prometheus endpoint with the SDK's (CUTOVER_METRICS_ADDRESS), and the SDK drops them
// while a workflow replays, so a restarted worker never counts an operation twice.
import { metricMeter } from '@temporalio/workflow';
import type { FinishedOperation, QueuedOperation } from '../../contract/api';
import { failureCategory } from '../../contract/failures';
import { METRIC } from '../../contract/metrics';
import type { Plan } from '../../contract/spec';
import { strategies } from '../strategies';

/** The failure type of an operation that ended before it changed anything (a refusal), or undefined. */
export function refusalOf(done: Pick<FinishedOperation, 'outcome' | 'failureType'>): string | undefined {
  if (done.outcome !== 'failed' || done.failureType === undefined) return undefined;
  return failureCategory(done.failureType) === 'failed' ? undefined : done.failureType;
}

/** Counts and times the operations of one environment workflow. */
export class OperationMetrics {
  private readonly startedAt = new Map<string, number>();

  constructor(
    private readonly app: string,
    private readonly env: string,
  ) {}

  started(op: QueuedOperation): void {
    this.startedAt.set(op.id, Date.now());
  }

  /** A request the environment refused outright (bad input, wrong environment). */
  rejected(): void {
    metricMeter.createCounter(METRIC.refusals, 'operations', 'operations refused before anything changed').add(1, { app: this.app, env: this.env, reason: 'InvalidRequest' });
  }

  finished(done: FinishedOperation, plan: Plan | null): void {
    const refusal = refusalOf(done);
    const outcome = refusal ? 'refused' : done.outcome;
    const kind = done.strategy ?? plan?.strategy.kind;
    // As the CutoverStrategy search attribute names it: blue-green, canary.
    const strategy = kind ? (strategies[kind]?.label ?? kind) : 'unknown';
    const tags = { app: this.app, env: this.env };
    const started = this.startedAt.get(done.id);
    this.startedAt.delete(done.id);
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
