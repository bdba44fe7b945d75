// Disaster-recovery failover: a service with a primary and a standby site, the failover and
// monitor workflows' requests, results, queries and updates. Secrets are never here: only the
// names of the worker's environment variables that hold them.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { safeName } from './names';
import { hostSchema } from './spec';

const port = z.number().int().min(1).max(65535);
const envVar = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
const httpUrl = z.string().regex(/^https?:\/\/\S+$/);

/** PostgreSQL connection settings; the password is read on the worker from `passwordEnv`. */
export const pgConnectionSchema = z.strictObject({
  host: z.string().min(1),
  port,
  user: z.string().min(1),
  database: z.string().min(1),
  passwordEnv: envVar.optional(),
});
export type PgConnection = z.infer<typeof pgConnectionSchema>;

/** How to stop a site's PostgreSQL for good (fence) and, for an aborted failover, start it again. */
export const fenceSchema = z.strictObject({
  host: hostSchema,
  /** Stops PostgreSQL on that host, e.g. `pg_ctlcluster 15 main stop -m fast`; must succeed when it is already stopped. */
  command: z.string().min(1),
  /**
   * Its data directory on that host (e.g. /var/lib/postgresql/15/main). When set, the fence
   * leaves `standby.signal` there after the stop: started again by anything (a reboot, systemd,
   * a person), the server comes up in recovery, read-only for every session, so it cannot take
   * writes beside the promoted standby. The undo removes the file before starting it.
   */
  dataDir: z.string().regex(/^\/\S*$/, { message: 'an absolute path like /var/lib/postgresql/15/main' }).optional(),
  /** Optional: starts it again (the undo of an aborted failover before promotion). */
  undo: z.string().min(1).optional(),
  /**
   * Optional, for `cutover failback`: re-seed this site's database as a standby of the other
   * site's and start it (`{{primaryHost}}`, `{{primaryPort}}` filled in), e.g.
   * `pg_basebackup -h {{primaryHost}} -p {{primaryPort}} -D ... -R -X stream -c fast && pg_ctlcluster 15 main start`.
   */
  reseed: z.string().min(1).optional(),
});
export type FenceSpec = z.infer<typeof fenceSchema>;

/** App servers started over SSH with configured commands (`{{host}}`, `{{address}}` filled in). */
export const sshAppServersSchema = z.strictObject({
  kind: z.literal('ssh'),
  hosts: z.array(hostSchema).min(1),
  start: z.string().min(1),
  stop: z.string().min(1),
  /** Checked from the worker after the start: `http://{{address}}:8080/health`. */
  healthUrl: z.string().min(1),
});
export type SshAppServers = z.infer<typeof sshAppServersSchema>;

/**
 * App servers created through the Vultr API from a snapshot: `count` instances labelled
 * `<label>-1..count` and tagged `tag`; instances already carrying the tag are reused, so a
 * retried step creates nothing twice. The API key is read on the worker from `apiKeyEnv`.
 */
export const vultrAppServersSchema = z.strictObject({
  kind: z.literal('vultr'),
  apiKeyEnv: envVar,
  /** Default https://api.vultr.com/v2. */
  apiUrl: httpUrl.optional(),
  region: z.string().min(1),
  plan: z.string().min(1),
  snapshotId: z.string().min(1),
  count: z.number().int().min(1).max(100),
  tag: safeName,
  label: safeName,
  /** Checked from the worker once an instance is active: `http://{{address}}:8080/health` (its main IP). */
  healthUrl: z.string().min(1),
});
export type VultrAppServers = z.infer<typeof vultrAppServersSchema>;

export const appServersSchema = z.discriminatedUnion('kind', [sshAppServersSchema, vultrAppServersSchema]);
export type AppServersSpec = z.infer<typeof appServersSchema>;

export const siteSchema = z.strictObject({
  name: safeName,
  database: pgConnectionSchema,
  /** How this site's database is fenced when the service fails away from it. */
  fence: fenceSchema,
  appServers: appServersSchema,
  /** What the DNS record holds while this site serves (A/AAAA addresses or a CNAME target); empty: the Vultr instances' main IPs. */
  dnsContent: z.array(z.string().min(1)),
});
export type SiteSpec = z.infer<typeof siteSchema>;

export const powerDnsSchema = z.strictObject({
  kind: z.literal('powerdns'),
  apiUrl: httpUrl,
  serverId: z.string().min(1),
  zone: z.string().min(1),
  apiKeyEnv: envVar,
  /** The authoritative server asked to confirm the change (and to resolve the smoke-test host). */
  nameserver: z.strictObject({ address: z.string().min(1), port }),
  /** Fully qualified, with the trailing dot: `app.example.com.` */
  name: z.string().regex(/\.$/),
  type: z.enum(['A', 'AAAA', 'CNAME']),
  ttlSeconds: z.number().int().min(1),
});
export type PowerDnsSpec = z.infer<typeof powerDnsSchema>;

/** Vultr DNS: the record set `name`/`type` of `domain`, one Vultr record per value. */
export const vultrDnsSchema = z.strictObject({
  kind: z.literal('vultr'),
  apiKeyEnv: envVar,
  /** Default https://api.vultr.com/v2. */
  apiUrl: httpUrl.optional(),
  /** The Vultr DNS domain, without the trailing dot: `example.com`. */
  domain: z.string().min(1),
  /** A Vultr nameserver (e.g. ns1.vultr.com:53) asked to confirm the change. */
  nameserver: z.strictObject({ address: z.string().min(1), port }),
  name: z.string().regex(/\.$/),
  type: z.enum(['A', 'AAAA', 'CNAME']),
  ttlSeconds: z.number().int().min(1),
});
export type VultrDnsSpec = z.infer<typeof vultrDnsSchema>;

export const dnsSchema = z.discriminatedUnion('kind', [powerDnsSchema, vultrDnsSchema]);
export type DnsSpec = z.infer<typeof dnsSchema>;

export const probeSchema = z.strictObject({
  url: httpUrl,
  expectStatus: z.number().int().min(100).max(599),
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  /** Failures in a row that open an incident. */
  failures: z.number().int().min(1),
});
export type ProbeSpec = z.infer<typeof probeSchema>;

export const smokeSchema = z.strictObject({
  /** Its host is the DNS name, resolved through the DNS server itself: `http://app.example.com:8080/`. */
  url: httpUrl,
  expectStatus: z.number().int().min(100).max(599),
  versionHeader: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  bodyContains: z.string().min(1).optional(),
  requests: z.number().int().min(1),
  /** How long the error rate is watched after the first passing answers. */
  watchMs: z.number().int().nonnegative(),
  /** Highest share of failed requests accepted while watching (0-1). */
  maxErrorRate: z.number().min(0).max(1),
  timeoutMs: z.number().int().positive(),
});
export type SmokeSpec = z.infer<typeof smokeSchema>;

export const UNREACHABLE_RULES = ['fail', 'proceed'] as const;
export const gatesSchema = z.strictObject({
  maxLagBytes: z.number().int().nonnegative(),
  maxLagSeconds: z.number().nonnegative(),
  /** The old primary cannot be reached to fence it: try for `waitMs`, then fail or proceed with a warning. */
  unreachablePrimary: z.strictObject({ waitMs: z.number().int().nonnegative(), then: z.enum(UNREACHABLE_RULES) }),
});
export type GatesSpec = z.infer<typeof gatesSchema>;

export const pagerDutySchema = z.strictObject({ url: httpUrl, routingKeyEnv: envVar });

export const failoverSpecSchema = z.strictObject({
  /** The service's name: `failover/<site>/<id>`, `monitor/<site>`. */
  site: safeName,
  primary: siteSchema,
  standby: siteSchema,
  dns: dnsSchema,
  probe: probeSchema,
  smoke: smokeSchema,
  gates: gatesSchema,
  /** Start the failover without waiting for `cutover failover confirm`. */
  auto: z.boolean(),
  /** Who may confirm a failover (CLI or the Slack button); absent: anyone who can reach Temporal or is in slackUsers. */
  confirmers: z.array(z.string().min(1)).min(1).optional(),
  slack: z.strictObject({ channel: z.string().min(1) }).optional(),
  pagerDuty: pagerDutySchema.optional(),
  /** Write the failover's steps to the audit log (cutover.yml has `audit:`). */
  audit: z.boolean().optional(),
});
export type FailoverSpec = z.infer<typeof failoverSpecSchema>;

export const failoverRequestSchema = z.strictObject({
  spec: failoverSpecSchema,
  id: safeName,
  by: z.string().min(1).max(200),
  reason: z.string().max(500),
  acceptDataLoss: z.boolean(),
  /** ms since epoch when the outage was detected (the monitor's first failed probe): the RTO's start. */
  detectedAt: z.number().int().nonnegative().optional(),
});
export type FailoverRequest = z.infer<typeof failoverRequestSchema>;

export const monitorRequestSchema = z.strictObject({
  spec: failoverSpecSchema,
  /** Carried over continue-as-new. */
  failuresInRow: z.number().int().nonnegative().optional(),
  firstFailureAt: z.number().int().nonnegative().optional(),
  /** An incident still open (waiting for confirm), carried over continue-as-new. */
  incident: z.strictObject({ openedAt: z.number().int().nonnegative(), detectedAt: z.number().int().nonnegative() }).optional(),
});
export type MonitorRequest = z.infer<typeof monitorRequestSchema>;

export const failoverWorkflowId = (site: string, id: string): string => `failover/${site}/${id}`;
export const failbackWorkflowId = (site: string, id: string): string => `failback/${site}/${id}`;

/** The pair the other way round: failback runs the failover from the standby back to the primary. */
export function reversedSpec(spec: FailoverSpec): FailoverSpec {
  return { ...spec, primary: spec.standby, standby: spec.primary };
}

export interface FailbackResult {
  /** The old primary was re-seeded by this run (false: it already was a standby). */
  reseeded: boolean;
  catchUpMs: number;
  failover: FailoverResult;
}
export const monitorWorkflowId = (site: string): string => `monitor/${site}`;

export const FAILOVER_STEPS = ['fence', 'lag-gate', 'promote', 'scale', 'dns', 'smoke', 'declare'] as const;
export type FailoverStep = (typeof FAILOVER_STEPS)[number];

export interface StepRecord {
  step: FailoverStep;
  startedAt: number;
  ms: number | null;
  summary: string;
}

export interface FailoverState {
  site: string;
  from: string;
  to: string;
  phase: FailoverStep | 'done' | 'failed' | 'aborted';
  steps: StepRecord[];
  warnings: string[];
  rpo: { bytes: number | null; seconds: number | null } | null;
  /** Set once the standby took writes: an abort can no longer put things back. */
  promoted: boolean;
}

export interface FailoverResult extends FailoverState {
  /** Detection (or the start) to verified smoke tests. */
  rtoMs: number;
  dnsAnswer: string[];
}

export const failoverStateQuery = defineQuery<FailoverState>('failoverState');
/** `cutover failover abort`: stop before promotion and put back what was changed. */
export const failoverAbortUpdate = defineUpdate<FailoverState, [{ by: string; reason?: string }]>('failoverAbort');

export interface MonitorState {
  site: string;
  primary: string;
  phase: 'watching' | 'incident' | 'failing-over' | 'done';
  failuresInRow: number;
  threshold: number;
  lastProbe: { at: number; ok: boolean; detail: string } | null;
  incident: { openedAt: number; detectedAt: number; failoverId: string | null } | null;
}

export const monitorStateQuery = defineQuery<MonitorState>('monitorState');
/** `cutover failover confirm`: start the failover of an open incident (or at once, with none). */
export const failoverConfirmUpdate = defineUpdate<MonitorState, [{ by: string; acceptDataLoss?: boolean }]>('failoverConfirm');

export const FAILOVER_FAILURE = {
  /** The standby is further behind than the gate allows: nothing promoted. */
  lagTooHigh: 'FailoverLagTooHigh',
  /** The old primary could not be fenced and the rule says fail: nothing promoted. */
  notFenced: 'FailoverNotFenced',
  aborted: 'FailoverAborted',
  failed: 'FailoverFailed',
} as const;
