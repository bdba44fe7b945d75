// The AWS world of the integration tests and bench:alb: a Temporal dev server, moto_server
// (ELBv2), the ALB data plane following it, the CodeDeploy stand-in whose "instances" are
// sandbox app processes on loopback (two per colour), a Slack stand-in, a cutover worker
// process pointed at them with the standard AWS_ENDPOINT_URL_* variables, and the CLI.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeListenersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { startDevServer, type DevServer } from '../../../sandbox/devserver';
import { freePort } from '../../../sandbox/procs';
import type { Color } from '../../../contract';
import { startFakeSlack, type FakeSlack } from '../fake-slack';
import { CLI, WorkerProcess, type CliRun } from '../world';
import { startDataPlane, type DataPlane } from './alb-dataplane';
import { startCodeDeployStandIn, type CodeDeployStandIn } from './codedeploy-standin';
import { startGate, type Gate } from './gate';
import { elbv2, seedAlb, startMoto, TEST_CREDENTIALS, type Moto, type SeededAlb } from './moto';

export interface AwsWorld {
  dir: string;
  server: DevServer;
  moto: Moto;
  alb: SeededAlb;
  dataPlane: DataPlane;
  codeDeploy: CodeDeployStandIn;
  /** The worker's way to the ELBv2 API (moto) and to CodeDeploy: can go down, counts calls. */
  gates: { elbv2: Gate; codeDeploy: Gate };
  worker: WorkerProcess;
  client: Client;
  slack: FakeSlack;
  /** Writes cutover.yml for the aws environment shop/prod; returns its path. */
  config(name: string, edit?: (env: Record<string, unknown>) => void): string;
  cutover(args: string[], pipeline: string, timeoutMs?: number): Promise<CliRun>;
  /** The listener's weights as moto has them: `blue=100,green=0`. */
  weights(): Promise<string>;
  stop(): Promise<void>;
}

export interface AwsWorldOptions {
  /** ValidateService's deep health tries (default 10 × 200 ms: the users' 10 × 5 s, shortened). */
  validate?: { attempts: number; intervalMs: number };
  /** Health-check intervals of the data plane scaled by this (default 0.02: 30 s → 600 ms). */
  timeScale?: number;
}

export async function startAwsWorld(prefix: string, o: AwsWorldOptions = {}): Promise<AwsWorld> {
  const dir = mkdtempSync(join(tmpdir(), `cutover-${prefix}-`));
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => console.error('cleanup:', err));
    stops.length = 0;
  };
  try {
    const moto = await startMoto(dir);
    stops.push(() => moto.stop());
    const instances = {} as Record<Color, { address: string; port: number }[]>;
    // One loopback address per instance: moto keys IP targets by address.
    const addresses = { blue: ['127.0.0.81', '127.0.0.82'], green: ['127.0.0.83', '127.0.0.84'] };
    for (const c of ['blue', 'green'] as const) instances[c] = await Promise.all(addresses[c].map(async (address) => ({ address, port: await freePort(address) })));
    const alb = await seedAlb(moto.url, 'shop', instances);
    const codeDeploy = await startCodeDeployStandIn({
      dir,
      application: 'shop',
      groups: { 'shop-blue': { color: 'blue', instances: instances.blue }, 'shop-green': { color: 'green', instances: instances.green } },
      validate: o.validate ?? { attempts: 10, intervalMs: 200 },
      appEnv: (v) => (v.startsWith('bad') ? { APP_HEALTH_STATUS: '503' } : {}),
    });
    stops.push(() => codeDeploy.close());
    const dataPlane = await startDataPlane({ elbv2: elbv2(moto.url), listenerArn: alb.listenerArn, refreshMs: 100, timeScale: o.timeScale ?? 0.02 });
    stops.push(() => dataPlane.close());
    const gates = { elbv2: await startGate(moto.url), codeDeploy: await startGate(codeDeploy.url) };
    stops.push(async () => void (await Promise.all([gates.elbv2.close(), gates.codeDeploy.close()])));
    const server = await startDevServer({ dir });
    stops.push(() => server.stop());
    const slack = await startFakeSlack();
    stops.push(() => slack.close());
    const worker = new WorkerProcess(dir, {
      TEMPORAL_ADDRESS: server.address,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_API_URL: slack.url,
      ...TEST_CREDENTIALS,
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: gates.elbv2.url,
      AWS_ENDPOINT_URL_CODEDEPLOY: gates.codeDeploy.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    stops.push(() => worker.stop());
    await worker.start();
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });

    return {
      dir,
      server,
      moto,
      alb,
      dataPlane,
      codeDeploy,
      gates,
      worker,
      client,
      slack,
      config(name, edit) {
        const env: Record<string, unknown> = {
          aws: {
            region: 'us-east-1',
            codeDeploy: { application: 'shop', deploymentGroups: { blue: 'shop-blue', green: 'shop-green' }, revision: 's3://releases/shop/{{version}}.zip', timeout: '2m', pollInterval: '200ms' },
          },
          router: { alb: { listenerArn: alb.listenerArn, targetGroups: alb.targetGroups, url: dataPlane.url } },
          healthCheck: { path: '/health/deep', timeout: '2s', interval: '200ms', attempts: 100 },
          verify: { requests: 5 },
          teardownDelay: '10m',
          slack: { channel: '#deploys' },
        };
        edit?.(env);
        const file = join(dir, `${name}.yml`);
        writeFileSync(file, stringify({ temporal: { address: server.address, uiUrl: server.uiUrl }, apps: { shop: { environments: { prod: env } } } }));
        return file;
      },
      cutover(args, pipeline, timeoutMs = 240_000) {
        const env = { ...process.env, GITLAB_CI: 'true', CI_PIPELINE_ID: pipeline, GITLAB_USER_LOGIN: 'alice', CI_COMMIT_SHA: 'abc123', CI_JOB_URL: 'https://gitlab.example/job/1' };
        return new Promise((done) => {
          execFile(CLI, args, { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
            done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
          });
        });
      },
      async weights() {
        const l = await elbv2(moto.url).send(new DescribeListenersCommand({ ListenerArns: [alb.listenerArn] }));
        const groups = l.Listeners?.[0]?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups ?? [];
        const of = (arn: string) => groups.find((g) => g.TargetGroupArn === arn)?.Weight ?? 0;
        return `blue=${of(alb.targetGroups.blue)},green=${of(alb.targetGroups.green)}`;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
