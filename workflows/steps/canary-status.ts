// A running canary tells its environment workflow where it stands, so `state` and
// `cutover status` show the step and weight without asking the child.
import { CancellationScope, getExternalWorkflowHandle, log, workflowInfo } from '@temporalio/workflow';
import { canaryProgressSignal, type CanaryStatus } from '../../contract/api';

export interface CanaryReporter {
  /** Tell the parent the status, if it changed (not for every measurement). */
  (status: CanaryStatus): void;
  /** Wait until the parent has been told the last status (before the canary returns). */
  flush(): Promise<void>;
}

/**
 * Signals the parent one status at a time, in order, and only the newest while one is on its
 * way. The signals cannot be cancelled: a canary cancelled by a rollback still says it is
 * rolling back. A signal still in flight when the workflow completes would be dropped, so the
 * canary flushes before it returns.
 */
export function canaryReporter(deployId: string): CanaryReporter {
  let lastSent = '';
  let next: CanaryStatus | null = null;
  let sending: Promise<void> | null = null;

  async function send(workflowId: string, runId: string | undefined): Promise<void> {
    const parent = getExternalWorkflowHandle(workflowId, runId);
    while (next) {
      const canary = next;
      next = null;
      await CancellationScope.nonCancellable(() => parent.signal(canaryProgressSignal, { deployId, canary })).catch((err: unknown) =>
        log.warn('could not tell the environment how the canary stands', { error: String(err) }),
      );
    }
    sending = null;
  }

  const report = (status: CanaryStatus): void => {
    const parent = workflowInfo().parent;
    if (!parent) return;
    const canary: CanaryStatus = { ...status, lastMeasurements: [] };
    const key = JSON.stringify({ ...canary, pauseEndsAt: canary.pauseEndsAt === null });
    if (key === lastSent) return;
    lastSent = key;
    next = canary;
    sending ??= send(parent.workflowId, parent.runId);
  };
  report.flush = async (): Promise<void> => {
    while (sending) await sending;
  };
  return report;
}
