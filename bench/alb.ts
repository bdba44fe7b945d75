// `npm run bench:alb [-- --repeats N --rate R]`: the AWS path on the local world of
// test/integration/aws.test.ts (moto_server, the ALB data plane, the CodeDeploy stand-in with
// sample-app instances, the dev server, a worker process, the CLI). Each repeat deploys a new
// version with `cutover deploy --wait` under a steady load through the data plane, then rolls
// back with `cutover rollback --wait`, timed until the data plane forwards to the previous group.
// The baseline does the seed's steps as a plain script with the same SDK calls (CreateDeployment,
// poll GetDeployment, DescribeTargetHealth, ModifyListener, verify through the load balancer;
// rollback = one ModifyListener), twice: as its own `node` process (bench/alb-baseline.mjs, as a
// user's script runs in CI: node start and SDK import included, like the CLI's process; the
// ratio is against this one) and in this process (`baselineInProcess`).
// Results: bench/results/alb-*.json and alb-latest.json.
import { execFile } from 'node:child_process';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DescribeTargetHealthCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { allTo, forwardAction } from '../activities/alb/listener';
import type { AlbRouter } from '../contract/aws';
import type { Color } from '../contract';
import { startLoad, type LoadStats } from '../sandbox/load';
import { elbv2 } from '../test/support/aws/moto';
import { activityRuns } from '../test/support/histories';
import { startAwsWorld, type AwsWorld } from '../test/support/aws/world';
import { intArg, round, sleep, summary, writeResults } from './common';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const REPEATS = intArg('repeats', 3, 20);
const RATE = intArg('rate', 100, 1000);

interface Pass {
  deployWallMs: number[];
  /** Where a cutover deploy's wall time went (ms), per repeat. */
  phases?: Record<string, number>[];
  rollbackMs: number[];
  requestsSent: number;
  requestsFailed: number;
  failures: string[];
}

async function underLoad<T>(w: AwsWorld, fn: () => Promise<T>): Promise<{ result: T; load: LoadStats }> {
  const load = startLoad([w.dataPlane.url], RATE, 10 * 60_000);
  await sleep(300);
  const result = await fn();
  await sleep(300);
  return { result, load: await load.stop() };
}

const add = (p: Pass, l: LoadStats): void => {
  p.requestsSent += l.sent;
  p.requestsFailed += l.failed;
  p.failures.push(...l.failures.slice(0, 5));
};

async function cutoverPass(w: AwsWorld, file: string): Promise<Pass> {
  const p: Pass = { deployWallMs: [], rollbackMs: [], requestsSent: 0, requestsFailed: 0, failures: [], phases: [] };
  for (let i = 1; i <= REPEATS; i++) {
    const t0 = Date.now();
    let cliStart = 0;
    let cliEnd = 0;
    const { result: d, load } = await underLoad(w, async () => {
      cliStart = Date.now();
      const run = await w.cutover(['-c', file, 'deploy', 'shop', 'prod', `c${i}`, '--wait'], `bench-d${i}`);
      cliEnd = Date.now();
      return run;
    });
    if (d.code !== 0) throw new Error(`cutover deploy c${i} exit ${d.code}: ${d.stderr}`);
    p.deployWallMs.push(Date.now() - t0 - 600);
    p.phases!.push(await phasesOf(w, `deploy/shop/prod/gitlab-bench-d${i}-c${i}`, `c${i}`, cliStart, cliEnd));
    add(p, load);
    const r0 = Date.now();
    const { result: r, load: l2 } = await underLoad(w, async () => {
      const run = w.cutover(['-c', file, 'rollback', 'shop', 'prod', '--wait'], `bench-r${i}`);
      const seen = await w.dataPlane.sawAllTo(w.alb.targetGroups.blue, r0);
      p.rollbackMs.push(seen - r0);
      return run;
    });
    if (r.code !== 0) throw new Error(`cutover rollback exit ${r.code}: ${r.stderr}`);
    add(p, l2);
  }
  return p;
}

/**
 * A cutover deploy's wall time in phases, from its history and the CodeDeploy stand-in: the CLI
 * until the deploy workflow started, the workflow until CreateDeployment, CodeDeploy's own run,
 * the poll lag (CodeDeploy done until the activity saw it), health + switch, verify + the end,
 * and the CLI noticing the end.
 */
async function phasesOf(w: AwsWorld, id: string, version: string, cliStart: number, cliEnd: number): Promise<Record<string, number>> {
  const history = await w.client.workflow.getHandle(id).fetchHistory();
  const at = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null } | undefined): number => Number(e?.eventTime?.seconds ?? 0) * 1000 + (e?.eventTime?.nanos ?? 0) / 1e6;
  const [wfStart, wfEnd] = [at(history.events?.[0]), at(history.events?.at(-1))];
  const runs = await activityRuns(w.client, id);
  const cd = runs.find((r) => r.type === 'codeDeploy');
  const switched = runs.filter((r) => r.type === 'albSetWeights').at(-1);
  const dep = w.codeDeploy.deployments().find((x) => x.version === version);
  if (!cd || !switched || !dep?.completedAt) return {};
  return {
    cliToWorkflowStart: Math.round(wfStart - cliStart),
    workflowToCreateDeployment: Math.round(dep.createdAt - wfStart),
    codeDeployRun: dep.completedAt - dep.createdAt,
    codeDeployPollLag: Math.round(cd.closed - dep.completedAt),
    healthAndSwitch: Math.round(switched.closed - cd.closed),
    verifyAndEnd: Math.round(wfEnd - switched.closed),
    cliNoticesEnd: Math.round(cliEnd - wfEnd),
  };
}

/** The seed's steps as a plain script: what an operator's shell script with the SDK would do. */
async function baselinePass(w: AwsWorld): Promise<Pass> {
  const p: Pass = { deployWallMs: [], rollbackMs: [], requestsSent: 0, requestsFailed: 0, failures: [] };
  // Through the same API gates as the worker (one loopback HTTP hop each).
  const elb = elbv2(w.gates.elbv2.url);
  const cd = new CodeDeployClient({ region: 'us-east-1', endpoint: w.gates.codeDeploy.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const router: AlbRouter = { kind: 'alb', listenerArn: w.alb.listenerArn, targetGroups: w.alb.targetGroups, url: w.dataPlane.url };
  const move = (c: Color) => elb.send(new ModifyListenerCommand({ ListenerArn: router.listenerArn, DefaultActions: forwardAction(router, allTo(c)) }));
  for (let i = 1; i <= REPEATS; i++) {
    const t0 = Date.now();
    const { load } = await underLoad(w, async () => {
      const { deploymentId } = await cd.send(new CreateDeploymentCommand({ applicationName: 'shop', deploymentGroupName: 'shop-green', revision: { revisionType: 'S3', s3Location: { bucket: 'releases', key: `shop/b${i}.zip`, bundleType: 'zip' } }, autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] } }));
      for (;;) {
        const s = (await cd.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
        if (s === 'Succeeded') break;
        if (s === 'Failed' || s === 'Stopped') throw new Error(`baseline deployment ${s}`);
        await sleep(200);
      }
      const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: router.targetGroups.green }));
      if (!h.TargetHealthDescriptions?.every((t) => t.TargetHealth?.State === 'healthy')) throw new Error('baseline: green not healthy');
      await move('green');
      for (let ok = 0; ok < 5; ) {
        const res = await fetch(router.url);
        await res.arrayBuffer();
        ok = res.headers.get('x-app-version') === `b${i}` ? ok + 1 : 0;
        if (ok === 0) await sleep(100);
      }
    });
    p.deployWallMs.push(Date.now() - t0 - 600);
    add(p, load);
    const { load: l2 } = await underLoad(w, async () => {
      const r0 = Date.now();
      await move('blue');
      p.rollbackMs.push((await w.dataPlane.sawAllTo(router.targetGroups.blue, r0)) - r0);
    });
    add(p, l2);
  }
  return p;
}

/** The same steps as bench/alb-baseline.mjs, each deploy and rollback one `node` process. */
async function processBaselinePass(w: AwsWorld): Promise<Pass> {
  const p: Pass = { deployWallMs: [], rollbackMs: [], requestsSent: 0, requestsFailed: 0, failures: [] };
  const env = {
    ...process.env,
    BASELINE_CODEDEPLOY_URL: w.gates.codeDeploy.url,
    BASELINE_ELBV2_URL: w.gates.elbv2.url,
    BASELINE_LISTENER_ARN: w.alb.listenerArn,
    BASELINE_TG_BLUE: w.alb.targetGroups.blue,
    BASELINE_TG_GREEN: w.alb.targetGroups.green,
    BASELINE_LB_URL: w.dataPlane.url,
  };
  const script = (args: string[]): Promise<void> =>
    new Promise((done, fail) => {
      execFile('node', [join(__dirname, 'alb-baseline.mjs'), ...args], { env, timeout: 120_000, killSignal: 'SIGKILL' }, (err, _out, stderr) =>
        err ? fail(new Error(`baseline script ${args.join(' ')}: ${err.message} ${stderr}`)) : done(),
      );
    });
  for (let i = 1; i <= REPEATS; i++) {
    const t0 = Date.now();
    const { load } = await underLoad(w, () => script(['deploy', `p${i}`]));
    p.deployWallMs.push(Date.now() - t0 - 600);
    add(p, load);
    const { load: l2 } = await underLoad(w, async () => {
      const r0 = Date.now();
      const run = script(['rollback']);
      p.rollbackMs.push((await w.dataPlane.sawAllTo(w.alb.targetGroups.blue, r0)) - r0);
      await run;
    });
    add(p, l2);
  }
  return p;
}

async function main(): Promise<void> {
  const w = await startAwsWorld('bench-alb');
  try {
    await w.codeDeploy.install('shop-blue', 'v1');
    const file = w.config('bench');
    const load0 = loadavg()[0]!;
    const cutover = await cutoverPass(w, file);
    const baseline = await processBaselinePass(w);
    const inProcess = await baselinePass(w);
    const med = (xs: number[]) => summary(xs).p50;
    const result = {
      at: new Date().toISOString(),
      repeats: REPEATS,
      ratePerSecond: RATE,
      machine: { cpus: cpus().length, loadAverage1mStart: round(load0, 2), loadAverage1mEnd: round(loadavg()[0]!, 2) },
      note: 'deployWallMs: CLI deploy --wait (cutover) or the script (baseline), CodeDeploy stand-in hooks 50 ms and ValidateService 10 × 200 ms; rollbackMs: from the rollback command starting until the data plane (reading moto every 100 ms) forwards to the previous group; baseline: the plain SDK script as its own node process (bench/alb-baseline.mjs, node start and SDK import included, as the CLI pays them); baselineInProcess: the same steps inside the benchmark process; ratio = cutover / baseline (the process one), ratioInProcess = cutover / baselineInProcess',
      cutover: { requestsFailed: cutover.requestsFailed, requestsSent: cutover.requestsSent, deployWallMs: summary(cutover.deployWallMs), rollbackMs: summary(cutover.rollbackMs), phasesMs: cutover.phases, failures: cutover.failures },
      baseline: { requestsFailed: baseline.requestsFailed, requestsSent: baseline.requestsSent, deployWallMs: summary(baseline.deployWallMs), rollbackMs: summary(baseline.rollbackMs), failures: baseline.failures },
      baselineInProcess: { requestsFailed: inProcess.requestsFailed, requestsSent: inProcess.requestsSent, deployWallMs: summary(inProcess.deployWallMs), rollbackMs: summary(inProcess.rollbackMs), failures: inProcess.failures },
      ratio: { deployWallMs: round(med(cutover.deployWallMs) / med(baseline.deployWallMs), 2), rollbackMs: round(med(cutover.rollbackMs) / med(baseline.rollbackMs), 2) },
      ratioInProcess: { deployWallMs: round(med(cutover.deployWallMs) / med(inProcess.deployWallMs), 2), rollbackMs: round(med(cutover.rollbackMs) / med(inProcess.rollbackMs), 2) },
    };
    const out = writeResults('alb', result);
    console.log(JSON.stringify({ cutover: result.cutover, baseline: result.baseline, baselineInProcess: result.baselineInProcess, ratio: result.ratio, ratioInProcess: result.ratioInProcess, machine: result.machine }, null, 2));
    console.log(`written: ${out}`);
  } finally {
    await w.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
