// The audit log's side of the journal: an operation's events, numbered so that each lands once
// however often it is written, sent in order in the background, and waited for at the end.
import { CancellationScope, condition, patched, sleep, workflowInfo } from '@temporalio/workflow';
import type { AuditAction, AuditEvent, AuditOperation } from '../../contract/audit';
import { auditOps } from './activities';
import { reasonOf } from './journal';

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

/** The audit trails of this workflow execution, flushed when it ends (workflows/interceptors.ts). */
const registry = (): Set<AuditTrail> => {
  const g = globalThis as { __cutoverAuditTrails?: Set<AuditTrail> };
  return (g.__cutoverAuditTrails ??= new Set());
};

/** Wait until every audit event of this execution has been written (never cancelled). */
export async function flushAuditTrails(): Promise<void> {
  for (const t of registry()) await t.flush();
}

export class AuditTrail {
  private readonly queue: AuditEvent[] = [];
  private writing = false;
  private seq = 0;
  private on: boolean | undefined;
  private readonly approvedBy: string[] = [];

  /** `say`: tells people (progress, UI) that events are waiting. */
  constructor(
    private readonly context: AuditContext,
    private readonly say: (message: string) => void,
  ) {
    registry().add(this);
  }

  /**
   * Written in the background, in order, one batch at a time; retried until PostgreSQL takes
   * it, without holding up the operation, which waits for it only at its very end.
   */
  record(action: AuditAction, fields: AuditFields = {}): void {
    const a = this.context;
    this.on ??= patched('audit-log');
    if (!this.on) return;
    if (action === 'approved' && fields.actor && !this.approvedBy.includes(fields.actor)) this.approvedBy.push(fields.actor);
    const { workflowId, runId } = workflowInfo();
    this.queue.push({
      // Zero-padded so that events of one instant sort in the order they happened.
      id: `${workflowId}:${runId}:${String(++this.seq).padStart(6, '0')}`,
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
    this.write();
  }

  private write(): void {
    if (this.writing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, 100);
    this.writing = true;
    const done = (): void => {
      this.writing = false;
      this.write();
    };
    // Not cancellable: a cancelled deploy's events (its cancellation among them) still land.
    CancellationScope.nonCancellable(() =>
      auditOps.auditWrite.executeWithOptions({ summary: `audit log: ${batch.map((e) => e.action).join(', ')}` }, [batch]),
    ).then(done, (err: unknown) => {
      // The activity gave up for now (PostgreSQL down for minutes, a worker without DATABASE_URL):
      // say so where people look, keep the events, try again in a minute.
      this.queue.unshift(...batch);
      this.say(`audit log: ${this.queue.length} event(s) not written yet (${reasonOf(err)}); trying again every minute`);
      void CancellationScope.nonCancellable(() => sleep('1 minute', { summary: 'audit log: waiting for PostgreSQL' })).then(done);
    });
  }

  /** Resolves once every event recorded so far is written. */
  async flush(): Promise<void> {
    if (!this.writing && this.queue.length === 0) return;
    await CancellationScope.nonCancellable(() => condition(() => !this.writing && this.queue.length === 0));
  }
}
