// A recurring deploy, fired by a Temporal Schedule: ask the version source which version is
// wanted, compare with what the hosts serve, and request a deploy of it from the environment
// (which holds it at a freeze, queues it, and runs it like any other). A version already live
// is a no-op, recorded as the run's result.
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { childWorkflowIds, type DeployRequest } from '../contract/requests';
import { describeVersionSource, scheduledDeployInputSchema, type ScheduledDeployInput, type ScheduledDeployResult } from '../contract/schedules';
import { Journal } from './steps/journal';
import { sshOnly } from './steps/hosts';
import { readLiveColour } from './steps/router';

const ops = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: ['UnsafeInput', 'HostKeyRejected', 'NoTemporalClient'] },
});

export async function scheduledDeployWorkflow(raw: ScheduledDeployInput): Promise<ScheduledDeployResult> {
  const parsed = scheduledDeployInputSchema.safeParse(raw);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`bad schedule input: ${parsed.error.message}`, 'BadScheduleInput');
  const { plan, schedule, versionFrom } = parsed.data;
  const journal = new Journal(undefined, workflowInfo().workflowId, { app: plan.app, env: plan.env, enabled: plan.audit === true, operation: 'schedule', version: null, actor: `schedule:${schedule}` });
  const host = sshOnly(plan).platform.hosts[0]!;

  journal.step('resolving', `asking ${describeVersionSource(versionFrom)} which version ${plan.app}/${plan.env} should run`);
  const version = await ops.resolveVersion.executeWithOptions({ summary: `version from ${describeVersionSource(versionFrom)}` }, [{ source: versionFrom, host }]);
  const live = await readLiveColour(plan);
  if (live?.version === version) {
    journal.step('no-op', `${version} is already live on ${live.color}: nothing to deploy`);
    return { outcome: 'no-op', version, live: `${live.color} (${version})` };
  }
  // One deploy per firing: a retried run (or a re-sent signal) reaches the same deploy.
  const key = `schedule-${schedule}-${workflowInfo().workflowId.split('/').pop() ?? ''}`.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 120);
  const request: DeployRequest = {
    deployId: childWorkflowIds.deploy(plan.app, plan.env, key),
    version,
    plan,
    trigger: { source: 'schedule', by: `schedule:${schedule}` },
  };
  await ops.requestDeploy.executeWithOptions({ summary: `ask env/${plan.app}/${plan.env} to deploy ${version}` }, [request]);
  journal.step('requested', `deploy of ${version} requested (${live ? `live: ${live.color} ${live.version ?? '?'}` : 'nothing live yet'}): ${request.deployId}`);
  return { outcome: 'requested', version, deployId: request.deployId };
}
