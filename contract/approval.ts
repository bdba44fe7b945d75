// Who must say yes before a deploy goes on: N of the listed approvers, at a point of the
// runbook (before it starts, or before traffic moves), within a time limit.
import { z } from 'zod';

export const APPROVAL_POINTS = ['start', 'switch'] as const;
export type ApprovalPoint = (typeof APPROVAL_POINTS)[number];

export const approvalPolicySchema = z.strictObject({
  required: z.number().int().positive(),
  approvers: z.array(z.string().min(1).max(100)).min(1),
  allowSelfApproval: z.boolean(),
  timeoutMs: z.number().int().positive(),
  /** `start`: before anything changes; `switch`: once the new version is healthy, before traffic moves (a canary's first step). */
  before: z.enum(APPROVAL_POINTS),
});
export type ApprovalPolicy = z.infer<typeof approvalPolicySchema>;

/** What one approval round asks for: the policy's, or a break-glass's one approver. */
export interface ApprovalRule {
  required: number;
  approvers: string[];
  allowSelfApproval: boolean;
}

export interface ApprovalRecord {
  by: string;
  comment?: string;
  /** Workflow time, ms since epoch. */
  at: number;
}
