// What a deploy waits for before it changes anything: its scheduled time, a freeze window
// (waited out or refused, as the environment says; a `--break-glass` deploy waits for its
// approvals instead), and the environment's approval policy when it applies before the start.
// Each wait is a visible timer or condition; the environment is told where the deploy stands,
// and that it is past its gates, before any host changes.
import { ApplicationFailure, getExternalWorkflowHandle, log, sleep, workflowInfo } from '@temporalio/workflow';
import { deployGateSignal, type GateStatus } from '../../contract/api';
import type { ApprovalRule } from '../../contract/approval';
import { FAILURE } from '../../contract/failures';
import type { ActiveFreeze } from '../../contract/freeze';
import type { DeployRequest } from '../../contract/requests';
import type { Plan } from '../../contract/spec';
import { calendarOps } from './activities';
import { Approvals } from './approval';
import type { Journal } from './journal';
import { refuse } from './outcome';

export interface GatesPassed {
  /** Who let a break-glass deploy through a freeze; the canary then holds at no freeze either. */
  breakGlassBy?: string;
}

/** The freeze in force now (the workflow's clock), if the plan has windows. */
export async function freezeNow(plan: Plan): Promise<ActiveFreeze | null> {
  const windows = plan.freeze?.windows ?? [];
  if (windows.length === 0) return null;
  return calendarOps.freezeAt.executeWithOptions({ summary: `is ${plan.app}/${plan.env} frozen now? (${windows.map((w) => w.name).join(', ')})` }, [{ windows, at: Date.now() }]);
}

export const describeFreeze = (f: ActiveFreeze): string => `frozen by ${f.windows.join(' + ')} until ${f.endsText}`;

/** Tell the environment where the deploy stands (what it shows); a lost status is logged, not fatal. */
async function tellEnvironment(deployId: string, gate: GateStatus): Promise<void> {
  try {
    await signalEnvironment(deployId, gate);
  } catch (err) {
    log.warn('could not tell the environment where the deploy stands', { error: String(err) });
  }
}

/** Awaited: the signal has reached the environment when this resolves. */
async function signalEnvironment(deployId: string, gate: GateStatus): Promise<void> {
  const parent = workflowInfo().parent;
  if (parent) await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(deployGateSignal, { deployId, gate });
}

/** The environment's approval policy as one round's rule, or a break-glass's one approver. */
export function approvalRule(request: DeployRequest, breakGlass: boolean): ApprovalRule | null {
  const policy = request.plan.approval;
  if (policy) return { required: policy.required, approvers: policy.approvers, allowSelfApproval: policy.allowSelfApproval };
  if (!breakGlass) return null;
  return { required: 1, approvers: request.plan.freeze?.breakGlassApprovers ?? [], allowSelfApproval: false };
}

/** The Approvals of this deploy, telling the environment where it stands. */
export const deployApprovals = (request: DeployRequest, journal: Journal): Approvals => new Approvals(request, journal, (gate) => tellEnvironment(request.deployId, gate));

export async function passGates(request: DeployRequest, journal: Journal, approvals: Approvals): Promise<GatesPassed> {
  const { plan, deployId, version } = request;
  const where = `${plan.app}/${plan.env}`;
  let breakGlassBy: string | undefined;
  journal.record('requested', {
    message: `deploy of ${version} to ${where} requested by ${request.trigger.by}`,
    detail: { trigger: request.trigger, ...(request.scheduledFor ? { scheduledFor: request.scheduledFor.text } : {}), ...(request.breakGlass ? { breakGlass: request.breakGlass.reason } : {}) },
  });

  const scheduled = request.scheduledFor;
  if (scheduled && scheduled.at > Date.now()) {
    const gate: GateStatus = { phase: 'scheduled', message: `scheduled for ${scheduled.text}`, until: scheduled.at };
    await tellEnvironment(deployId, gate);
    journal.step('scheduled', `deploy of ${version} scheduled for ${scheduled.text} by ${request.trigger.by}`);
    await journal.open(`:alarm_clock: ${where}: deploy of ${version} by ${request.trigger.by} starts at ${scheduled.text}`);
    await sleep(scheduled.at - Date.now(), { summary: `scheduled for ${scheduled.text}` });
  }

  for (;;) {
    const freeze = await freezeNow(plan);
    if (!freeze) break;
    const frozen = describeFreeze(freeze);
    if (request.breakGlass) {
      const rule = approvalRule(request, true)!;
      if (rule.approvers.filter((a) => rule.allowSelfApproval || a !== request.trigger.by).length < rule.required) {
        const err = ApplicationFailure.create({
          type: FAILURE.deployFrozen,
          nonRetryable: true,
          message: `${where} is ${frozen}; break-glass needs ${rule.required} approver(s) other than ${request.trigger.by} (the environment's approval or breakGlass.approvers in cutover.yml); nothing was changed`,
        });
        await refuse(request, journal, err);
        throw err;
      }
      await journal.open(`:rotating_light: ${where}: break-glass deploy of ${version} by ${request.trigger.by} (${request.breakGlass.reason}) waits for approval from ${rule.approvers.join(', ')}; ${frozen}`);
      if (await approvals.require(`break-glass through a freeze (${frozen})`, rule, freeze.endsAt, 'return')) {
        breakGlassBy = approvals.approvals.map((a) => a.by).join(', ');
        journal.step('break-glass', `break-glass approved by ${breakGlassBy}: ${request.breakGlass.reason}`);
        await journal.notify('break-glass', `:rotating_light: break-glass through ${freeze.windows.join(' + ')}: approved by ${breakGlassBy}; reason: ${request.breakGlass.reason}`);
        break;
      }
      continue; // the freeze ended on its own: look again
    }
    if (plan.freeze?.onFreeze !== 'wait') {
      const err = ApplicationFailure.create({
        type: FAILURE.deployFrozen,
        nonRetryable: true,
        message: `${where} is ${frozen}; nothing was changed. Deploy after it ends, or use --break-glass "reason" with an approver`,
      });
      await refuse(request, journal, err);
      throw err;
    }
    const gate: GateStatus = { phase: 'frozen', message: frozen, until: freeze.endsAt };
    await tellEnvironment(deployId, gate);
    journal.step('frozen', `deploy of ${version} held: ${frozen}`);
    await journal.open(`:snowflake: ${where}: deploy of ${version} by ${request.trigger.by} is held: ${frozen}`);
    await sleep(freeze.endsAt - Date.now(), { summary: frozen });
  }
  if (plan.approval?.before === 'start') await requireApproval(request, approvals, 'before it starts');
  return breakGlassBy !== undefined ? { breakGlassBy } : {};
}

/** The environment's approval policy, at its point of the runbook (nothing to do without one). */
export async function requireApproval(request: DeployRequest, approvals: Approvals, when: string): Promise<void> {
  const policy = request.plan.approval;
  const rule = approvalRule(request, false);
  if (!policy || !rule) return;
  await approvals.require(`deploy of ${request.version} ${when}`, rule, Date.now() + policy.timeoutMs, 'reject');
}

/**
 * Past its gates and its preflight: tell the environment the hosts are about to change. Not
 * best-effort: until the environment knows, it keeps the colour this deploy is about to stop as
 * the one to roll back to, so a deploy that cannot tell it fails here, before any change.
 */
export function beginChanges(deployId: string): Promise<void> {
  return signalEnvironment(deployId, { phase: 'passed', message: 'changing the hosts' });
}
