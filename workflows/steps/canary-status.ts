// A running canary tells its environment workflow where it stands, so `state` and
// `cutover status` show the step and weight without asking the child.
import { CancellationScope, getExternalWorkflowHandle, log, workflowInfo } from '@temporalio/workflow';
import { canaryProgressSignal, type CanaryStatus } from '../../contract/api';

export interface CanaryReporter {
  /** Tell the parent the status, if it changed (not for every measurement). */
  (status: CanaryStatus): void;
  /**
   * Wait until every status sent so far has reached the parent. The canary does this before it
   * returns: the server drops a signal that is still on its way when its sender completes.
   */
  flush(): Promise<void>;
}

/** A function that signals the parent when the status changed (not for every measurement). */
export function canaryReporter(deployId: string): CanaryReporter {
  let lastSent = '';
  const inFlight = new Set<Promise<void>>();
  const report = (status: CanaryStatus): void => {
    const parent = workflowInfo().parent;
    if (!parent) return;
    const canary: CanaryStatus = { ...status, lastMeasurements: [] };
    const key = JSON.stringify({ ...canary, pauseEndsAt: canary.pauseEndsAt === null });
    if (key === lastSent) return;
    lastSent = key;
    const send = () => getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(canaryProgressSignal, { deployId, canary });
    // A signal from a cancelled scope is never sent: a canary cancelled by a rollback still says it is rolling back.
    const cancelled = CancellationScope.current().consideredCancelled;
    const sending: Promise<void> = (cancelled ? CancellationScope.nonCancellable(send) : send())
      .catch((err: unknown) => log.warn('could not tell the environment how the canary stands', { error: String(err) }))
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };
  report.flush = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.all(inFlight);
  };
  return report;
}
