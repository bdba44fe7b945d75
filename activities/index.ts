// createActivities(deps): every activity the worker registers, one module per external system,
// each built from injected clients and config so tests can point them at local servers.
import type { Client } from '@temporalio/client';
import { TASK_QUEUE } from '../contract/spec';
import { createAuditActivities } from './audit';
import type { AuditStore } from './audit/store';
import { createAlbActivities, type AlbDeps } from './alb';
import { createCloudWatchActivities, type CloudWatchDeps } from './cloudwatch';
import { createCodeDeployActivities, type CodeDeployDeps } from './codedeploy';
import { createFreezeActivities } from './freeze';
import { createNginxActivities } from './nginx';
import { createPostgresActivities } from './postgres';
import { createPowerDnsActivities } from './powerdns';
import { createProbeActivities } from './probe';
import { createPrometheusActivities } from './prometheus';
import { createSiteActivities } from './sites';
import { createSlackActivities, type SlackDeps } from './slack';
import { createSlotActivities } from './slots';
import type { Ssh } from './ssh/client';
import { createTemporalActivities } from './temporal';
import { createVultrActivities } from './vultr';
import { createVersionSourceActivities } from './version-source';

type PrometheusDeps = NonNullable<Parameters<typeof createPrometheusActivities>[0]>;

export interface ActivityDeps {
  ssh: Ssh;
  slack: SlackDeps;
  prometheus?: PrometheusDeps;
  /** For recurring deploys, which ask the environment workflow for a deploy like the CLI does. */
  temporal?: { client: Client; taskQueue: string };
  /** The audit log's database (DATABASE_URL); without it, audit writes wait for a worker that has one. */
  audit?: AuditStore;
  /** AWS clients; by default the SDK's own (default credential chain, AWS_ENDPOINT_URL*). */
  aws?: { alb?: AlbDeps; codedeploy?: CodeDeployDeps; cloudwatch?: CloudWatchDeps };
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSlotActivities(deps.ssh),
    ...createNginxActivities(deps.ssh),
    ...createPrometheusActivities(deps.prometheus),
    ...createSlackActivities(deps.slack),
    ...createFreezeActivities(),
    ...createAlbActivities(deps.aws?.alb),
    ...createCodeDeployActivities(deps.aws?.codedeploy),
    ...createCloudWatchActivities(deps.aws?.cloudwatch),
    ...createVersionSourceActivities(deps.ssh),
    ...createTemporalActivities(deps.temporal?.client, deps.temporal?.taskQueue ?? TASK_QUEUE),
    ...createAuditActivities(deps.audit),
    // Disaster-recovery failover (workflows/failover.ts, monitor.ts); secrets from the worker's environment.
    ...createPostgresActivities(deps.ssh),
    ...createPowerDnsActivities(),
    ...createProbeActivities(),
    ...createSiteActivities(deps.ssh),
    ...createVultrActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
