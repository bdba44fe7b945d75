// What a deploy waits for before it changes anything: its scheduled time, a freeze window
// (waited out or refused, as the environment says), and for a `--break-glass` deploy inside a
// freeze, one approval. Each wait is a visible timer or condition; the environment is told
// where the deploy stands, and that it is past its gates, before any host changes.
import { ApplicationFailure, condition, getExternalWorkflowHandle, log, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { approveUpdate, deployGateSignal, type GateStatus } from '../../contract/api';
import { FAILURE } from '../../contract/failures';
import type { ActiveFreeze } from '../../contract/freeze';
import type { DeployRequest } from '../../contract/requests';
import type { Plan } from '../../contract/spec';
import { calendarOps } from './activities';
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

/** Tell the environment where the deploy stands; awaited, so `passed` reaches it before any host changes. */
async function tellEnvironment(deployId: string, gate: GateStatus): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent) return;
  try {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(deployGateSignal, { deployId, gate });
  } catch (err) {
    log.warn('could not tell the environment where the deploy stands', { error: String(err) });
  }
}

export async function passGates(request: DeployRequest, journal: Journal): Promise<GatesPassed> {
  const { plan, deployId, version } = request;
  const where = `${plan.app}/${plan.env}`;
  const approval = breakGlassApproval(request);

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
      if (approval.by) break;
      const approvers = plan.freeze?.breakGlassApprovers ?? [];
      if (approvers.filter((a) => a !== request.trigger.by).length === 0) {
        const err = ApplicationFailure.create({
          type: FAILURE.deployFrozen,
          nonRetryable: true,
          message: `${where} is ${frozen}; break-glass needs an approver other than ${request.trigger.by} in the environment's breakGlass.approvers (cutover.yml); nothing was changed`,
        });
        await refuse(request, journal, err);
        throw err;
      }
      const gate: GateStatus = { phase: 'awaiting-approval', message: `break-glass through a freeze (${frozen}): waiting for cutover approve ${plan.app} ${plan.env} from one of ${approvers.join(', ')}`, until: freeze.endsAt };
      approval.waiting = true;
      await tellEnvironment(deployId, gate);
      journal.step('awaiting-approval', gate.message);
      await journal.open(`:rotating_light: ${where}: break-glass deploy of ${version} by ${request.trigger.by} (${request.breakGlass.reason}) waits for approval from ${approvers.join(', ')}; ${frozen}`);
      await condition(() => approval.by !== undefined, freeze.endsAt - Date.now(), { summary: `break-glass: waiting for approval (${frozen})` });
      approval.waiting = false;
      if (approval.by) {
        journal.step('break-glass', `break-glass approved by ${approval.by}${approval.comment ? ` (${approval.comment})` : ''}: ${request.breakGlass.reason}`);
        await journal.notify('break-glass', `:rotating_light: break-glass through ${freeze.windows.join(' + ')}: approved by ${approval.by}; reason: ${request.breakGlass.reason}`);
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
  return approval.by ? { breakGlassBy: approval.by } : {};
}

/** Past its gates and its preflight: tell the environment the hosts are about to change (awaited). */
export function beginChanges(deployId: string): Promise<void> {
  return tellEnvironment(deployId, { phase: 'passed', message: 'changing the hosts' });
}

interface Approval {
  waiting: boolean;
  by?: string;
  comment?: string;
}

/** `cutover approve` on a break-glass deploy: an Update whose validator refuses what cannot count. */
function breakGlassApproval(request: DeployRequest): Approval {
  const approval: Approval = { waiting: false };
  const approvers = request.plan.freeze?.breakGlassApprovers ?? [];
  setHandler(
    approveUpdate,
    ({ by, comment }) => {
      approval.by = by;
      if (comment !== undefined) approval.comment = comment;
      return { phase: 'passed', message: `break-glass approved by ${by}` };
    },
    {
      validator: (req) => {
        if (typeof req?.by !== 'string' || req.by.length === 0 || req.by.length > 200) throw new Error('by: say who approves, in at most 200 characters');
        if (req.comment !== undefined && (typeof req.comment !== 'string' || req.comment.length > 500)) throw new Error('comment: at most 500 characters of text');
        if (!request.breakGlass) throw new Error(`nothing to approve: ${request.deployId} is not a break-glass deploy`);
        if (approval.by !== undefined) throw new Error(`already approved by ${approval.by}`);
        if (!approval.waiting) throw new Error('nothing to approve: the deploy is not waiting for a break-glass approval');
        if (req.by === request.trigger.by) throw new Error(`${req.by} triggered this deploy and cannot approve it; ask one of ${approvers.filter((a) => a !== req.by).join(', ')}`);
        if (!approvers.includes(req.by)) throw new Error(`${req.by} is not a break-glass approver of ${request.plan.app}/${request.plan.env} (approvers: ${approvers.join(', ')})`);
      },
    },
  );
  return approval;
}
