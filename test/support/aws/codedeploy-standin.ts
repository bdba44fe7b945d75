// A CodeDeploy stand-in (moto's deployments stay `Created`; StopDeployment and the target APIs
// fail there). It speaks the JSON 1.1 protocol (`POST /`, `X-Amz-Target:
// CodeDeploy_20141006.<Op>`) for the operations cutover uses, with the documented shapes and
// error types, and a real state machine: each instance of the deployment group runs the
// lifecycle hooks in order (ApplicationStop stops the app, ApplicationStart starts the new
// version as a sandbox app process on loopback, ValidateService retries the deep health check);
// a hook can be made to fail; a failed or stopped deployment with auto-rollback redeploys the
// group's last good version.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { spawnDaemon, waitForTcp, type Daemon } from '../../../sandbox/procs';

export const LIFECYCLE = ['ApplicationStop', 'DownloadBundle', 'BeforeInstall', 'Install', 'AfterInstall', 'ApplicationStart', 'ValidateService'] as const;
export type LifecycleEvent = (typeof LIFECYCLE)[number];
const SCRIPT_HOOKS: readonly LifecycleEvent[] = ['ApplicationStop', 'BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService'];

const APP_JS = resolve(__dirname, '../../../sandbox/app/server.js');

export interface StandInInstance {
  id: string;
  address: string;
  port: number;
}

export interface StandInOptions {
  dir: string;
  application: string;
  /** Deployment group name → its instances (the colour's target group). */
  groups: Record<string, { color: string; instances: { address: string; port: number }[] }>;
  /** ValidateService: deep health tries and the pause between them (the users': 10 × 5 s). */
  validate?: { attempts: number; intervalMs: number; path?: string };
  /** Extra environment of the app process for a version (e.g. APP_HEALTH_STATUS=503 for a bad release). */
  appEnv?: (version: string) => NodeJS.ProcessEnv;
}

interface EventState {
  lifecycleEventName: LifecycleEvent;
  status: 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Skipped';
  startTime?: number;
  endTime?: number;
  diagnostics?: { errorCode: string; scriptName: string; message: string; logTail: string };
}

interface Deployment {
  deploymentId: string;
  applicationName: string;
  deploymentGroupName: string;
  revision: { revisionType: string; s3Location?: { bucket: string; key: string; bundleType?: string } };
  version: string;
  description?: string;
  status: 'Created' | 'Queued' | 'InProgress' | 'Succeeded' | 'Failed' | 'Stopped';
  createTime: number;
  completeTime?: number;
  errorInformation?: { code: string; message: string };
  autoRollback: boolean;
  rollbackInfo?: { rollbackDeploymentId?: string; rollbackTriggeringDeploymentId?: string; rollbackMessage?: string };
  targets: Map<string, { status: string; events: EventState[]; lastUpdatedAt: number }>;
  stopRequested: boolean;
}

class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface CodeDeployStandIn {
  url: string;
  /** Deployments of `version` fail at this hook (on every instance). */
  failAt: Map<string, LifecycleEvent>;
  /** Each hook takes at least this long (ms); default 50. */
  hookMs: number;
  /** The next call of this operation answers with this error (e.g. AccessDeniedException). */
  denyNext(op: string, type: string, message: string): void;
  /** Calls answered with a denial so far: `Op: ErrorType`. */
  denied: string[];
  /** Every deployment; createdAt/completedAt in epoch ms. */
  deployments(): { id: string; group: string; version: string; status: string; rollbackOf?: string; createdAt: number; completedAt?: number }[];
  /** What runs on each instance: `address:port` → version. */
  running(): Record<string, string | null>;
  /** Start `version` on a group's instances directly (the world as it was before cutover). */
  install(group: string, version: string): Promise<void>;
  close(): Promise<void>;
}

const now = (): number => Date.now() / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startCodeDeployStandIn(o: StandInOptions): Promise<CodeDeployStandIn> {
  const validate = { attempts: o.validate?.attempts ?? 10, intervalMs: o.validate?.intervalMs ?? 5000, path: o.validate?.path ?? '/health/deep' };
  const instances = new Map<string, StandInInstance[]>();
  for (const [name, g] of Object.entries(o.groups)) {
    instances.set(name, g.instances.map((i) => ({ id: `i-${randomBytes(8).toString('hex').slice(0, 17)}`, ...i })));
  }
  const procs = new Map<string, { daemon: Daemon; version: string }>();
  const deployments = new Map<string, Deployment>();
  const lastGood = new Map<string, string>();
  const active = new Map<string, string>();
  const denials = new Map<string, { type: string; message: string }>();
  const denied: string[] = [];
  const failAt = new Map<string, LifecycleEvent>();
  const self = { hookMs: 50 };

  async function stopApp(inst: StandInInstance): Promise<void> {
    const p = procs.get(inst.id);
    procs.delete(inst.id);
    await p?.daemon.stop(3000);
  }

  async function startApp(inst: StandInInstance, version: string, color: string): Promise<void> {
    await stopApp(inst);
    const daemon = spawnDaemon(process.execPath, [APP_JS, '--port', String(inst.port), '--version', version, '--color', color, '--host', inst.address], join(o.dir, `${inst.id}.log`), {
      ...process.env,
      ...(o.appEnv?.(version) ?? {}),
    });
    procs.set(inst.id, { daemon, version });
    await waitForTcp(`app ${version} on ${inst.address}:${inst.port}`, inst.address, inst.port, 15_000, () => (daemon.isRunning() ? undefined : 'exited'));
  }

  async function deepHealthy(inst: StandInInstance): Promise<string | undefined> {
    let last = '';
    for (let i = 1; i <= validate.attempts; i++) {
      try {
        const res = await fetch(`http://${inst.address}:${inst.port}${validate.path}`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return undefined;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = String((err as Error).cause ?? err);
      }
      if (i < validate.attempts) await sleep(validate.intervalMs);
    }
    return `${validate.path} not healthy after ${validate.attempts} tries (${last})`;
  }

  async function runHook(d: Deployment, inst: StandInInstance, hook: LifecycleEvent, color: string): Promise<void> {
    if (failAt.get(d.version) === hook && SCRIPT_HOOKS.includes(hook)) throw new Error(`script for ${hook} exited with code 1`);
    if (hook === 'ApplicationStop') await stopApp(inst);
    if (hook === 'ApplicationStart') await startApp(inst, d.version, color);
    if (hook === 'ValidateService') {
      const problem = await deepHealthy(inst);
      if (problem) throw new Error(problem);
    }
  }

  function finish(d: Deployment, status: 'Succeeded' | 'Failed' | 'Stopped', error?: { code: string; message: string }): void {
    if (d.status === 'Succeeded' || d.status === 'Failed' || d.status === 'Stopped') return;
    d.status = status;
    d.completeTime = now();
    if (error) d.errorInformation = error;
    if (active.get(d.deploymentGroupName) === d.deploymentId) active.delete(d.deploymentGroupName);
    if (status === 'Succeeded') lastGood.set(d.deploymentGroupName, d.version);
    else if (d.autoRollback) {
      const previous = lastGood.get(d.deploymentGroupName);
      if (previous) {
        const rb = create(d.applicationName, d.deploymentGroupName, { revisionType: 'S3' }, previous, `rollback of ${d.deploymentId}`, false);
        rb.rollbackInfo = { rollbackTriggeringDeploymentId: d.deploymentId };
        d.rollbackInfo = { rollbackDeploymentId: rb.deploymentId, rollbackMessage: `Deployment ${d.deploymentId} ${status.toLowerCase()}; rolling back to ${previous} with ${rb.deploymentId}` };
      } else d.rollbackInfo = { rollbackMessage: 'no earlier successful deployment to roll back to' };
    }
  }

  async function run(d: Deployment): Promise<void> {
    const color = o.groups[d.deploymentGroupName]!.color;
    d.status = 'InProgress';
    const insts = instances.get(d.deploymentGroupName) ?? [];
    // One instance at a time (CodeDeployDefault.OneAtATime), each through every hook.
    for (const inst of insts) {
      const t = d.targets.get(inst.id)!;
      t.status = 'InProgress';
      for (const ev of t.events) {
        if (d.stopRequested) {
          ev.status = 'Skipped';
          continue;
        }
        ev.status = 'InProgress';
        ev.startTime = now();
        t.lastUpdatedAt = now();
        try {
          await sleep(self.hookMs);
          await runHook(d, inst, ev.lifecycleEventName, color);
          ev.status = 'Succeeded';
        } catch (err) {
          ev.status = 'Failed';
          ev.diagnostics = { errorCode: 'ScriptFailed', scriptName: `scripts/${ev.lifecycleEventName}.sh`, message: (err as Error).message, logTail: (err as Error).message };
        }
        ev.endTime = now();
        if (ev.status === 'Failed') break;
      }
      const failed = t.events.some((e) => e.status === 'Failed');
      t.status = d.stopRequested ? 'Skipped' : failed ? 'Failed' : 'Succeeded';
      t.lastUpdatedAt = now();
      if (failed) {
        for (const rest of insts.slice(insts.indexOf(inst) + 1)) d.targets.get(rest.id)!.status = 'Skipped';
        return finish(d, 'Failed', { code: 'HEALTH_CONSTRAINTS', message: 'The overall deployment failed because too many individual instances failed deployment, too few healthy instances are available for deployment, or some instances in your deployment group are experiencing problems.' });
      }
      if (d.stopRequested) break;
    }
    if (d.stopRequested) return finish(d, 'Stopped', { code: 'MANUAL_STOP', message: 'The deployment was stopped by the user.' });
    finish(d, 'Succeeded');
  }

  function create(application: string, group: string, revision: Deployment['revision'], version: string, description: string | undefined, autoRollback: boolean): Deployment {
    const id = `d-${randomBytes(5).toString('hex').toUpperCase().slice(0, 9)}`;
    const d: Deployment = {
      deploymentId: id,
      applicationName: application,
      deploymentGroupName: group,
      revision,
      version,
      ...(description ? { description } : {}),
      status: 'Created',
      createTime: now(),
      autoRollback,
      targets: new Map((instances.get(group) ?? []).map((i) => [i.id, { status: 'Pending', lastUpdatedAt: now(), events: LIFECYCLE.map((e) => ({ lifecycleEventName: e, status: 'Pending' as const })) }])),
      stopRequested: false,
    };
    deployments.set(id, d);
    active.set(group, id);
    void run(d);
    return d;
  }

  const overview = (d: Deployment) => {
    const count = (s: string) => [...d.targets.values()].filter((t) => t.status === s).length;
    return { Pending: count('Pending'), InProgress: count('InProgress'), Succeeded: count('Succeeded'), Failed: count('Failed'), Skipped: count('Skipped'), Ready: 0 };
  };

  const info = (d: Deployment) => ({
    applicationName: d.applicationName,
    deploymentGroupName: d.deploymentGroupName,
    deploymentId: d.deploymentId,
    revision: d.revision,
    status: d.status,
    createTime: d.createTime,
    ...(d.completeTime ? { completeTime: d.completeTime } : {}),
    ...(d.errorInformation ? { errorInformation: d.errorInformation } : {}),
    ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
    ...(d.description ? { description: d.description } : {}),
    creator: d.rollbackInfo?.rollbackTriggeringDeploymentId ? 'codeDeployRollback' : 'user',
    deploymentOverview: overview(d),
    deploymentConfigName: 'CodeDeployDefault.OneAtATime',
    autoRollbackConfiguration: { enabled: d.autoRollback, events: d.autoRollback ? ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] : [] },
    computePlatform: 'Server',
  });

  const deploymentOf = (id: unknown): Deployment => {
    if (typeof id !== 'string' || id === '') throw new ApiError('DeploymentIdRequiredException', 'The deployment ID was not specified.');
    if (!/^d-[A-Z0-9]{9}$/.test(id)) throw new ApiError('InvalidDeploymentIdException', `The deployment ID ${id} is not valid.`);
    const d = deployments.get(id);
    if (!d) throw new ApiError('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`);
    return d;
  };

  const ops: Record<string, (b: Record<string, unknown>) => unknown> = {
    CreateDeployment(b) {
      if (b.applicationName !== o.application) throw new ApiError('ApplicationDoesNotExistException', `No application found for name: ${String(b.applicationName)}`);
      const group = String(b.deploymentGroupName ?? '');
      if (!o.groups[group]) throw new ApiError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${group}`);
      const rev = b.revision as Deployment['revision'] | undefined;
      const key = rev?.s3Location?.key;
      if (rev?.revisionType !== 'S3' || !rev.s3Location?.bucket || !key) throw new ApiError('InvalidRevisionException', 'The revision was not specified or is not an S3 location.');
      if (active.has(group)) throw new ApiError('DeploymentLimitExceededException', `The Deployment Group '${group}' already has an active Deployment '${active.get(group)}'`);
      // The bundle's name is the version (s3://bucket/app/<version>.zip).
      const version = key.split('/').pop()!.replace(/\.(zip|tar|tgz|tar\.gz)$/, '');
      const auto = (b.autoRollbackConfiguration as { enabled?: boolean } | undefined)?.enabled === true;
      return { deploymentId: create(o.application, group, rev, version, b.description as string | undefined, auto).deploymentId };
    },
    GetDeployment(b) {
      return { deploymentInfo: info(deploymentOf(b.deploymentId)) };
    },
    StopDeployment(b) {
      const d = deploymentOf(b.deploymentId);
      if (d.status === 'Succeeded' || d.status === 'Failed' || d.status === 'Stopped') throw new ApiError('DeploymentAlreadyCompletedException', `The deployment ${d.deploymentId} has already completed.`);
      d.stopRequested = true;
      if (b.autoRollbackEnabled !== undefined) d.autoRollback = b.autoRollbackEnabled === true;
      return { status: 'Pending', statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' };
    },
    ListDeploymentTargets(b) {
      return { targetIds: [...deploymentOf(b.deploymentId).targets.keys()] };
    },
    BatchGetDeploymentTargets(b) {
      const d = deploymentOf(b.deploymentId);
      const ids = (b.targetIds as string[] | undefined) ?? [];
      return {
        deploymentTargets: ids.map((id) => {
          const t = d.targets.get(id);
          if (!t) throw new ApiError('DeploymentTargetDoesNotExistException', `The target ${id} does not exist in deployment ${d.deploymentId}.`);
          return { deploymentTargetType: 'InstanceTarget', instanceTarget: { deploymentId: d.deploymentId, targetId: id, targetArn: `arn:aws:ec2:us-east-1:123456789012:instance/${id}`, status: t.status, lastUpdatedAt: t.lastUpdatedAt, lifecycleEvents: t.events } };
        }),
      };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomBytes(16).toString('hex') });
        res.end(JSON.stringify(body));
      };
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith('CodeDeploy_20141006.') ? target.slice('CodeDeploy_20141006.'.length) : '';
      try {
        if (req.method !== 'POST' || !ops[op]) throw new ApiError('UnknownOperationException', `unknown operation ${target || '(no X-Amz-Target)'}`);
        if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) throw new ApiError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400);
        const denial = denials.get(op);
        if (denial) {
          denials.delete(op);
          denied.push(`${op}: ${denial.type}`);
          throw new ApiError(denial.type, denial.message);
        }
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
        send(200, ops[op]!(body));
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError('InternalFailure', String(err), 500);
        send(e.status, { __type: e.type, message: e.message });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    failAt,
    get hookMs() {
      return self.hookMs;
    },
    set hookMs(ms: number) {
      self.hookMs = ms;
    },
    denyNext: (op, type, message) => void denials.set(op, { type, message }),
    denied,
    deployments: () =>
      [...deployments.values()].map((d) => ({ id: d.deploymentId, group: d.deploymentGroupName, version: d.version, status: d.status, ...(d.rollbackInfo?.rollbackTriggeringDeploymentId ? { rollbackOf: d.rollbackInfo.rollbackTriggeringDeploymentId } : {}), createdAt: Math.round(d.createTime * 1000), ...(d.completeTime ? { completedAt: Math.round(d.completeTime * 1000) } : {}) })),
    running: () => Object.fromEntries([...instances.values()].flat().map((i) => [`${i.address}:${i.port}`, procs.get(i.id)?.daemon.isRunning() ? procs.get(i.id)!.version : null])),
    async install(group, version) {
      for (const inst of instances.get(group) ?? []) await startApp(inst, version, o.groups[group]!.color);
      lastGood.set(group, version);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      for (const d of deployments.values()) d.stopRequested = true;
      await Promise.all([...procs.values()].map((p) => p.daemon.stop(3000)));
      procs.clear();
    },
  };
}
