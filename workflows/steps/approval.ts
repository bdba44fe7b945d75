// Human approvals inside a deploy: `cutover approve` / `cutover reject` are Updates whose
// validators refuse what cannot count (not an approver, the person who triggered the deploy,
// the same person twice, nothing waiting), so the caller is told at once. Approvals given stay
// valid for the rest of the deploy. One rejection ends it.
import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import { approveUpdate, rejectUpdate, type GateStatus } from '../../contract/api';
import type { ApprovalRecord, ApprovalRule } from '../../contract/approval';
import { FAILURE } from '../../contract/failures';
import type { DeployRequest } from '../../contract/requests';
import type { Journal } from './journal';

interface Waiting {
  what: string;
  rule: ApprovalRule;
  until: number;
}

export class Approvals {
  private readonly given: ApprovalRecord[] = [];
  private rejection: ApprovalRecord | null = null;
  private waiting: Waiting | null = null;

  constructor(
    private readonly request: DeployRequest,
    private readonly journal: Journal,
    private readonly tell: (gate: GateStatus) => Promise<void>,
  ) {
    setHandler(approveUpdate, (r) => this.approve(r), { validator: (r) => this.check(r, 'approve') });
    setHandler(rejectUpdate, (r) => this.reject(r), { validator: (r) => this.check(r, 'reject') });
  }

  /** Approvals given so far, in order. */
  get approvals(): readonly ApprovalRecord[] {
    return this.given;
  }

  /** Who still can approve under `rule` (not those who did, not the trigger unless allowed). */
  private candidates(rule: ApprovalRule): string[] {
    return rule.approvers.filter((a) => !this.given.some((g) => g.by === a) && (rule.allowSelfApproval || a !== this.request.trigger.by));
  }

  private missing(rule: ApprovalRule): number {
    return Math.max(0, rule.required - this.given.filter((g) => rule.approvers.includes(g.by)).length);
  }

  private status(w: Waiting): GateStatus {
    const left = this.missing(w.rule);
    const message =
      left === 0
        ? `${w.what}: approved by ${this.given.map((g) => g.by).join(', ')}`
        : `${w.what}: waiting for ${left} more approval${left === 1 ? '' : 's'} from ${this.candidates(w.rule).join(', ')}`;
    return { phase: left === 0 ? 'approved' : 'awaiting-approval', message, until: w.until, approvals: [...this.given] };
  }

  /**
   * Wait until `rule` is met. True when approved; false when `until` passes and the caller
   * allows that (a break-glass whose freeze ended); else the deploy is rejected.
   */
  async require(what: string, rule: ApprovalRule, until: number, onTimeout: 'reject' | 'return'): Promise<boolean> {
    if (this.missing(rule) === 0) return true;
    const w: Waiting = { what, rule, until };
    this.waiting = w;
    const status = this.status(w);
    await this.tell(status);
    this.journal.step('awaiting-approval', status.message);
    await this.journal.notify(`awaiting-approval-${what}`, `:raising_hand: ${status.message} (or cutover approve ${this.request.plan.app} ${this.request.plan.env})`, undefined, { deployId: this.request.deployId });
    // Each approval short of the rule is told to the environment (status, UI) as it comes.
    let seen = this.given.length;
    let decided = false;
    for (;;) {
      const woke = await condition(() => this.rejection !== null || this.missing(rule) === 0 || this.given.length !== seen, until - Date.now(), { summary: `${what}: waiting for approval` });
      for (const g of this.given.slice(seen)) this.journal.record('approved', { actor: g.by, message: `${what}: approved by ${g.by}`, detail: g.comment !== undefined ? { comment: g.comment } : {} });
      decided = this.rejection !== null || this.missing(rule) === 0;
      if (!woke || decided) break;
      seen = this.given.length;
      const partial = this.status(w);
      this.journal.step('awaiting-approval', `approved by ${this.given.at(-1)!.by}; ${partial.message}`);
      await this.tell(partial);
    }
    this.waiting = null;
    if (this.rejection) {
      const r = this.rejection;
      this.journal.record('rejected', { actor: r.by, message: `${what}: rejected by ${r.by}`, detail: { comment: r.comment ?? '' } });
      throw ApplicationFailure.create({ type: FAILURE.deployRejected, nonRetryable: true, message: `${what}: rejected by ${r.by}${r.comment ? `: ${r.comment}` : ''}` });
    }
    if (decided) {
      const approved = this.status(w);
      this.journal.step('approved', approved.message);
      // The environment shows the approval until the deploy moves on (older runs kept showing the wait).
      if (patched('tell-approved')) await this.tell(approved);
      return true;
    }
    if (onTimeout === 'return') return false;
    this.journal.record('rejected', { actor: null, outcome: 'timed-out', message: `${what}: no approval in time` });
    throw ApplicationFailure.create({ type: FAILURE.deployRejected, nonRetryable: true, message: `${what}: no approval in time (${this.status(w).message})` });
  }

  private approve({ by, comment }: { by: string; comment?: string }): GateStatus {
    this.given.push({ by, at: Date.now(), ...(comment !== undefined ? { comment } : {}) });
    const w = this.waiting!;
    return this.status(w);
  }

  private reject({ by, comment }: { by: string; comment: string }): GateStatus {
    this.rejection = { by, comment, at: Date.now() };
    return { phase: 'awaiting-approval', message: `rejected by ${by}: ${comment}` };
  }

  private check(req: { by?: unknown; comment?: unknown } | undefined, action: 'approve' | 'reject'): void {
    if (typeof req?.by !== 'string' || req.by.length === 0 || req.by.length > 200) throw new Error('by: say who you are, in at most 200 characters');
    if (req.comment !== undefined && (typeof req.comment !== 'string' || req.comment.length > 500)) throw new Error('comment: at most 500 characters of text');
    if (action === 'reject' && (typeof req.comment !== 'string' || req.comment.trim() === '')) throw new Error('comment: say why you reject it (--comment)');
    const w = this.waiting;
    const { plan } = this.request;
    if (!w || this.rejection) throw new Error(`nothing to ${action}: ${this.request.deployId} is not waiting for an approval`);
    const by = req.by;
    if (!w.rule.approvers.includes(by)) throw new Error(`${by} is not an approver of ${plan.app}/${plan.env} here (approvers: ${w.rule.approvers.join(', ')})`);
    if (action === 'reject') return;
    if (by === this.request.trigger.by && !w.rule.allowSelfApproval) throw new Error(`${by} triggered this deploy and cannot approve it; ask ${this.candidates(w.rule).join(', ') || 'another approver'}`);
    if (this.given.some((g) => g.by === by)) throw new Error(`${by} has already approved this deploy`);
  }
}
