// The public surface of the workflows: signals, updates, queries and the shapes they carry.
// Imported by workflows, the CLI and tests alike.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Measurement } from './analysis';
import type { ApprovalRecord } from './approval';
import type { DeployRequest, RollbackRequest } from './requests';
import type { Color, Plan, StrategyKind } from './spec';

export const deploySignal = defineSignal<[DeployRequest]>('deploy');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const stateQuery = defineQuery<EnvState>('state');
export const progressQuery = defineQuery<ProgressEntry[]>('progress');

/** A running canary tells its environment where it stands (shown by `state` and `cutover status`). */
export const canaryProgressSignal = defineSignal<[{ deployId: string; canary: CanaryStatus }]>('canaryProgress');

/**
 * A deploy tells its environment where it stands at its gates (its scheduled time, a freeze, a
 * break-glass approval). `passed` means it is about to change the hosts: from then on the colour
 * kept for rollback is the one it replaces.
 */
export const deployGateSignal = defineSignal<[{ deployId: string; gate: GateStatus }]>('deployGate');

/** `cutover approve`: one approval of a deploy waiting for its approval policy (or a `--break-glass` deploy in a freeze). */
export const approveUpdate = defineUpdate<GateStatus, [{ by: string; comment?: string }]>('approve');
/** `cutover reject`: one rejection ends the deploy (nothing changed, or the new colour stopped before any traffic moved). */
export const rejectUpdate = defineUpdate<GateStatus, [{ by: string; comment: string }]>('reject');

/** `cutover cancel`: drop a scheduled or queued deploy, or one still waiting at its gates (nothing changed yet). */
export const cancelUpdate = defineUpdate<{ cancelled: string; was: 'scheduled' | 'queued' | 'waiting' }, [{ id: string; by: string }]>('cancel');

export interface GateStatus {
  phase: 'scheduled' | 'frozen' | 'awaiting-approval' | 'approved' | 'passed';
  /** In words: `frozen by weekend until Mon 7 Dec 2026 08:00 Europe/Berlin`. */
  message: string;
  /** ms since epoch when the wait ends by itself, if it does. */
  until?: number;
  /** Approvals given so far. */
  approvals?: ApprovalRecord[];
}

/** Manual control of a running canary, as Updates: the caller learns at once whether it was accepted. */
export const promoteUpdate = defineUpdate<CanaryStatus, [{ full?: boolean; by: string }]>('promote');
export const pauseUpdate = defineUpdate<CanaryStatus, [{ by: string }]>('pause');
export const resumeUpdate = defineUpdate<CanaryStatus, [{ by: string }]>('resume');
export const abortUpdate = defineUpdate<CanaryStatus, [{ by: string; reason?: string }]>('abort');
export const canaryQuery = defineQuery<CanaryStatus>('canary');
/** A rollback's answer once traffic is back and verified (or not); see RollbackTraffic. */
export const rollbackTrafficUpdate = defineUpdate<RollbackTraffic>('traffic');

export interface CanaryStatus {
  /** 0-based index of the step in force, and how many there are. */
  step: number;
  steps: number;
  /** The canary's share of traffic now, 0-100. */
  weight: number;
  /** Held by `cutover pause` (the step's pause timer stops counting). */
  paused: boolean;
  /** Waiting at a pause without a duration, for `cutover promote`. */
  awaitingPromotion: boolean;
  /** ms since epoch when the current pause ends, if it has a duration and is not paused. */
  pauseEndsAt: number | null;
  phase: 'starting' | 'progressing' | 'promoting' | 'aborting' | 'done';
  /** The latest measurement of each metric. */
  lastMeasurements: Measurement[];
}

export interface ProgressEntry {
  /** Workflow time, ms since epoch. */
  at: number;
  step: string;
  message: string;
}

export interface LiveColor {
  color: Color;
  version: string;
  deployId: string;
}

export interface PreviousColor {
  color: Color;
  version: string;
  /** ms since epoch when the old colour is stopped. */
  teardownAt: number;
  /** The deploy that replaced it, and that deploy's Slack thread for the teardown note. */
  replacedBy: string;
  slackThread: string | null;
}

export type OperationKind = 'deploy' | 'rollback' | 'teardown';
export type Outcome = 'succeeded' | 'failed' | 'cancelled';

export interface QueuedOperation {
  kind: OperationKind;
  id: string;
  version?: string;
  by: string;
  strategy?: StrategyKind;
  /** Set while a canary runs. */
  canary?: CanaryStatus;
  /** A scheduled deploy: when it starts, in the words of the person who scheduled it. */
  scheduledFor?: { at: number; text: string };
  /** `--break-glass` reason. */
  breakGlass?: string;
  /** Where a running deploy stands at its gates (scheduled time, freeze, approval). */
  gate?: GateStatus;
  /** The running deploy said it is about to change the hosts (later gates, e.g. an approval before the switch, wait after changes). */
  changing?: boolean;
}

export interface FinishedOperation extends QueuedOperation {
  outcome: Outcome;
  at: number;
  reason?: string;
  /** The failure's type (FAILURE, ACTIVITY_ERROR), so a retried CI job whose run is gone exits as the first did. */
  failureType?: string;
}

export interface EnvState {
  app: string;
  env: string;
  live: LiveColor | null;
  previous: PreviousColor | null;
  running: QueuedOperation | null;
  queue: QueuedOperation[];
  /** Deploys scheduled for later (`cutover deploy --at`), earliest first; queued when their notice time comes. */
  scheduled: QueuedOperation[];
  /** Most recent first; bounded. Deduplicates retried triggers. */
  recent: FinishedOperation[];
  /** Requests refused by the environment (bad input), most recent first; bounded. */
  rejected: { id: string; reason: string; at: number }[];
  plan: Plan | null;
}

export interface DeployResult {
  deployId: string;
  version: string;
  color: Color;
  hosts: string[];
  /** The colour kept alive for rollback, if there was one. */
  previous: { color: Color; version: string } | null;
  /** Slack thread of this deploy (null when Slack is off), for later notes such as the teardown. */
  slackThread: string | null;
}

export interface RollbackResult {
  rollbackId: string;
  /** What serves traffic now. */
  color: Color;
  version: string;
  hosts: string[];
  /** Set when the rollback cancelled a deploy in flight instead of switching colours. */
  cancelledDeploy?: string;
}

/**
 * `rollback --wait` asks the rollback for this (the `traffic` Update): it answers once every
 * router is back on the old colour and verification has said whether it answers as the old
 * version; stopping the rolled-back colour follows in the workflow.
 */
export type RollbackTraffic =
  | { verified: true; result: RollbackResult }
  | { verified: false; failureType: string; reason: string };

export interface TeardownInput {
  plan: Plan;
  previous: PreviousColor;
}

export interface TeardownResult {
  outcome: Outcome;
  reason?: string;
}
