// A running canary tells its environment workflow where it stands, so `state` and
// `cutover status` show the step and weight without asking the child.
import { getExternalWorkflowHandle, log, workflowInfo } from '@temporalio/workflow';
import { canaryProgressSignal, type CanaryStatus } from '../../contract/api';

/** A function that signals the parent when the status changed (not for every measurement). */
export function canaryReporter(deployId: string): (status: CanaryStatus) => void {
  let lastSent = '';
  return (status) => {
    const parent = workflowInfo().parent;
    if (!parent) return;
    const canary: CanaryStatus = { ...status, lastMeasurements: [] };
    const key = JSON.stringify({ ...canary, pauseEndsAt: canary.pauseEndsAt === null });
    if (key === lastSent) return;
    lastSent = key;
    getExternalWorkflowHandle(parent.workflowId, parent.runId)
      .signal(canaryProgressSignal, { deployId, canary })
      .catch((err: unknown) => log.warn('could not tell the environment how the canary stands', { error: String(err) }));
  };
}
