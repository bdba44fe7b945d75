// What an operation tells people as it goes: the progress query, the "current details" and
// phase search attribute in the Temporal UI, the Slack thread, and the audit log. Nothing else
// writes to Slack or the audit log, so nothing bypasses the record.
import { log, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { progressQuery, type ProgressEntry } from '../../contract/api';
import type { AuditAction } from '../../contract/audit';
import { SA } from '../../contract/search-attributes';
import { slackOps } from './activities';
import { AuditTrail, type AuditContext, type AuditFields } from './audit-trail';

export { deployAudit, type AuditContext } from './audit-trail';

/** Progress phases that are audit actions of their own; every other phase is a `step`. */
const PHASE_ACTIONS: Readonly<Record<string, AuditAction>> = {
  requested: 'requested',
  scheduled: 'scheduled',
  frozen: 'frozen',
  'break-glass': 'break-glass',
  'awaiting-approval': 'awaiting-approval',
  refused: 'refused',
  failed: 'failed',
  cancelled: 'cancelled',
  promoted: 'promoted',
  paused: 'paused',
  resumed: 'resumed',
  live: 'succeeded',
  incident: 'incident',
};
/** Slack events that are audit actions (the rest repeat a phase already recorded). */
const EVENT_ACTIONS: Readonly<Record<string, AuditAction>> = { started: 'started', switched: 'switched', 'rolled-back': 'rolled-back' };
export class Journal {
  private readonly entries: ProgressEntry[] = [];
  private thread: string | null = null;
  private readonly audit: AuditTrail | undefined;

  constructor(
    private readonly channel: string | undefined,
    private readonly key: string,
    audit?: AuditContext,
  ) {
    setHandler(progressQuery, () => this.entries);
    this.audit = audit?.enabled ? new AuditTrail(audit, (message) => this.note('audit-waiting', message)) : undefined;
  }

  get slackThread(): string | null {
    return this.thread;
  }

  /** Record a step: progress line, UI details and the phase search attribute. */
  step(phase: string, message: string): void {
    this.entries.push({ at: Date.now(), step: phase, message });
    setCurrentDetails(`**${phase}**: ${message}`);
    upsertSearchAttributes([{ key: SA.phase, value: phase }]);
    log.info(message, { phase });
    const action = PHASE_ACTIONS[phase] ?? 'step';
    this.record(action, { message, ...(action === 'step' ? { detail: { phase } } : {}) });
  }

  /** A progress line and the UI details only: no phase change, no audit event. */
  private note(step: string, message: string): void {
    this.entries.push({ at: Date.now(), step, message });
    setCurrentDetails(`**${step}**: ${message}`);
    log.warn(message);
  }

  /** An audit event only (no progress line): e.g. each approver's approval. */
  record(action: AuditAction, fields: AuditFields = {}): void {
    this.audit?.record(action, fields);
  }

  /** Open the deploy's Slack thread with a headline (or, once open, make this the headline). */
  async open(headline: string): Promise<void> {
    if (!this.channel) return;
    const channel = this.channel;
    const thread = this.thread;
    if (thread) {
      await this.safely(() => slackOps.slackUpdate({ channel, ts: thread, text: headline }));
      return;
    }
    const r = await this.safely(() => slackOps.slackPost({ channel, text: headline, key: `${this.key}:headline` }));
    this.thread = r?.ts ?? null;
  }

  /** Post an event in the thread and make it the headline; with `approve`, under Approve / Reject buttons for that deploy. */
  async notify(event: string, text: string, headline?: string, approve?: { deployId: string }, failover?: { monitorId: string; site: string; standby: string }): Promise<void> {
    const action = EVENT_ACTIONS[event];
    if (action) this.record(action, { message: text });
    if (!this.channel) return;
    const channel = this.channel;
    const thread = this.thread;
    await this.safely(() => slackOps.slackPost({ channel, text, threadTs: thread ?? undefined, key: `${this.key}:${event}`, ...(approve ? { approvalButtons: approve } : {}), ...(failover ? { failoverButton: failover } : {}) }));
    if (headline && thread) await this.safely(() => slackOps.slackUpdate({ channel, ts: thread, text: headline }));
  }

  private async safely<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      log.warn('slack notification failed; the operation goes on', { error: String(err) });
      return null;
    }
  }
}

/** The innermost message of a failure chain (activity → application failure). */
export function reasonOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as Error & { cause?: unknown }).cause instanceof Error) {
    e = (e as Error & { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(e);
}

