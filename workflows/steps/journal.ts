// What an operation tells people as it goes: the progress query, the "current details" and
// phase search attribute in the Temporal UI, the Slack thread, and the audit log. Nothing else
// writes to Slack or the audit log, so nothing bypasses the record.
import { CancellationScope, condition, log, patched, setCurrentDetails, setHandler, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { progressQuery, type ProgressEntry } from '../../contract/api';
import type { AuditAction, AuditEvent, AuditOperation } from '../../contract/audit';
import { SA } from '../../contract/search-attributes';
import { auditOps, slackOps } from './activities';

/** Who and what the audit events of one operation are about. */
export interface AuditContext {
  app: string;
  env: string;
  /** The plan's `audit` flag: off, nothing is written. */
  enabled: boolean;
  operation: AuditOperation;
  version: string | null;
  /** Who asked for the operation (the default actor of its events). */
  actor: string | null;
}

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
};
/** Slack events that are audit actions (the rest repeat a phase already recorded). */
const EVENT_ACTIONS: Readonly<Record<string, AuditAction>> = { started: 'started', switched: 'switched', 'rolled-back': 'rolled-back' };
const OUTCOMES: Partial<Record<AuditAction, string>> = {
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  refused: 'refused',
  rejected: 'rejected',
  'rolled-back': 'rolled-back',
};

export interface AuditFields {
  actor?: string | null;
  outcome?: string | null;
  message?: string;
  detail?: Record<string, unknown>;
}

/** The audit context of a deploy (its trigger is the actor). */
export function deployAudit(request: { plan: { app: string; env: string; audit?: boolean | undefined }; version: string; trigger: { by: string } }): AuditContext {
  return { app: request.plan.app, env: request.plan.env, enabled: request.plan.audit === true, operation: 'deploy', version: request.version, actor: request.trigger.by };
}

/** The journals of this workflow execution, flushed when it ends (workflows/interceptors.ts). */
const registry = (): Set<Journal> => {
  const g = globalThis as { __cutoverJournals?: Set<Journal> };
  return (g.__cutoverJournals ??= new Set());
};

/** Wait until every audit event of this execution has been written (never cancelled). */
export async function flushJournals(): Promise<void> {
  for (const j of registry()) await j.flushAudit();
}

export class Journal {
  private readonly entries: ProgressEntry[] = [];
  private thread: string | null = null;
  private readonly auditQueue: AuditEvent[] = [];
  private auditWriting = false;
  private auditSeq = 0;
  private auditOn: boolean | undefined;
  private readonly approvedBy: string[] = [];

  constructor(
    private readonly channel: string | undefined,
    private readonly key: string,
    private readonly audit?: AuditContext,
  ) {
    setHandler(progressQuery, () => this.entries);
    registry().add(this);
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

  /**
   * An audit event only (no progress line): e.g. each approver's approval. Written in the
   * background, in order, one batch at a time; retried until PostgreSQL takes it, without
   * holding up the operation, which waits for it only at its very end.
   */
  record(action: AuditAction, fields: AuditFields = {}): void {
    const a = this.audit;
    if (!a?.enabled) return;
    this.auditOn ??= patched('audit-log');
    if (!this.auditOn) return;
    if (action === 'approved' && fields.actor && !this.approvedBy.includes(fields.actor)) this.approvedBy.push(fields.actor);
    const { workflowId, runId } = workflowInfo();
    this.auditQueue.push({
      // Zero-padded so that events of one instant sort in the order they happened.
      id: `${workflowId}:${runId}:${String(++this.auditSeq).padStart(6, '0')}`,
      at: Date.now(),
      app: a.app,
      env: a.env,
      operation: a.operation,
      operationId: workflowId,
      action,
      actor: fields.actor !== undefined ? fields.actor : a.actor,
      version: a.version,
      approvers: [...this.approvedBy],
      outcome: fields.outcome !== undefined ? fields.outcome : (OUTCOMES[action] ?? null),
      message: fields.message ?? '',
      detail: fields.detail ?? {},
    });
    this.writeAudit();
  }

  private writeAudit(): void {
    if (this.auditWriting || this.auditQueue.length === 0) return;
    const batch = this.auditQueue.splice(0, 100);
    this.auditWriting = true;
    const done = (): void => {
      this.auditWriting = false;
      this.writeAudit();
    };
    // Not cancellable: a cancelled deploy's events (its cancellation among them) still land.
    CancellationScope.nonCancellable(() =>
      auditOps.auditWrite.executeWithOptions({ summary: `audit log: ${batch.map((e) => e.action).join(', ')}` }, [batch]),
    ).then(done, (err: unknown) => {
      // The activity gave up for now (PostgreSQL down for minutes, a worker without DATABASE_URL):
      // say so where people look, keep the events, try again in a minute.
      this.auditQueue.unshift(...batch);
      const waiting = `audit log: ${this.auditQueue.length} event(s) not written yet (${reasonOf(err)}); trying again every minute`;
      this.entries.push({ at: Date.now(), step: 'audit-waiting', message: waiting });
      setCurrentDetails(`**audit-waiting**: ${waiting}`);
      log.warn(waiting);
      void CancellationScope.nonCancellable(() => sleep('1 minute', { summary: 'audit log: waiting for PostgreSQL' })).then(done);
    });
  }

  /** Resolves once every event recorded so far is written. */
  async flushAudit(): Promise<void> {
    if (!this.auditWriting && this.auditQueue.length === 0) return;
    await CancellationScope.nonCancellable(() => condition(() => !this.auditWriting && this.auditQueue.length === 0));
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
  async notify(event: string, text: string, headline?: string, approve?: { deployId: string }): Promise<void> {
    const action = EVENT_ACTIONS[event];
    if (action) this.record(action, { message: text });
    if (!this.channel) return;
    const channel = this.channel;
    const thread = this.thread;
    await this.safely(() => slackOps.slackPost({ channel, text, threadTs: thread ?? undefined, key: `${this.key}:${event}`, ...(approve ? { approvalButtons: approve } : {}) }));
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

