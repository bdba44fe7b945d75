// The audit log's retention: run daily by the `cutover-audit-purge` Schedule (created by a
// worker that has DATABASE_URL), deletes events older than the retention in small batches.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AuditPurgeInput, AuditPurgeResult } from '../contract/audit';

const purgeOps = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 10 },
});

export async function auditPurgeWorkflow(input: AuditPurgeInput): Promise<AuditPurgeResult> {
  return purgeOps.auditPurge.executeWithOptions({ summary: `delete audit events older than ${input.retentionDays} days` }, [input]);
}
