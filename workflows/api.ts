// The public surface of the workflows: signals, queries, search attributes and the shapes
// they carry. Imported by workflows, the CLI and tests alike.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Color, DeployRequest, Plan, RollbackRequest } from './plan';

export const deploySignal = defineSignal<[DeployRequest]>('deploy');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const stateQuery = defineQuery<EnvState>('state');
export const progressQuery = defineQuery<ProgressEntry[]>('progress');

export const SA = {
  app: defineSearchAttributeKey('CutoverApp', SearchAttributeType.KEYWORD),
  env: defineSearchAttributeKey('CutoverEnv', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('CutoverVersion', SearchAttributeType.KEYWORD),
  strategy: defineSearchAttributeKey('CutoverStrategy', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD),
  triggeredBy: defineSearchAttributeKey('CutoverTriggeredBy', SearchAttributeType.KEYWORD),
} as const;

/** `temporal server start-dev --search-attribute` arguments for the keys above. */
export const SEARCH_ATTRIBUTE_FLAGS: string[] = Object.values(SA).flatMap((k) => [
  '--search-attribute',
  `${k.name}=Keyword`,
]);

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
}

export interface FinishedOperation extends QueuedOperation {
  outcome: Outcome;
  at: number;
  reason?: string;
}

export interface EnvState {
  app: string;
  env: string;
  live: LiveColor | null;
  previous: PreviousColor | null;
  running: QueuedOperation | null;
  queue: QueuedOperation[];
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

/** ApplicationFailure types used by the workflows; the CLI maps them to messages. */
export const FAILURE = {
  deployFailed: 'DeployFailed',
  rollbackFailed: 'RollbackFailed',
  nothingToRollBack: 'NothingToRollBack',
  hostsDisagree: 'HostsDisagree',
  /** Bad input found on the hosts (the CLI exits 2): nothing was changed. */
  versionNotInstalled: 'VersionNotInstalled',
} as const;

export const childWorkflowIds = {
  deploy: (app: string, env: string, key: string): string => `deploy/${app}/${env}/${key}`,
  rollback: (app: string, env: string, key: string): string => `rollback/${app}/${env}/${key}`,
};
