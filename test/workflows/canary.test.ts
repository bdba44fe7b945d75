// The canary runbook on the time-skipping test server, with the hosts, Prometheus and Slack
// replaced by the in-memory model (FakeWorld): weights on every router, measurements every
// interval, breaches and inconclusive analysis rolled back, promote/pause/resume/abort as
// Updates, and the environment around it (teardown window, rollback, queue, worker restart).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  abortUpdate,
  canaryQuery,
  pauseUpdate,
  promoteUpdate,
  resumeUpdate,
  type AnalysisSpec,
  type CanaryStatus,
  type CanaryStep,
  type CanaryStrategy,
  type DeployResult,
  type EnvState,
  type Plan,
  type RollbackResult,
} from '../../contract';
import type { Activities } from '../../activities';
import { childResult, envState, sendDeploy, sendRollback, waitForState } from '../support/envs';
import { FakeWorld } from '../support/fakes/world';
import { deployRequest, fakePlan, rollbackRequest } from '../support/plans';
import { bundleWorkflows, startTimeSkipping } from '../support/time-skipping';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const METRIC = 'error-rate';
const THRESHOLD = 0.01;
const PASSING = 0.001;
const FAILING = 0.2;

/** The runbook of the brief: 1% → 5% → 25% → 100%, pausing 2, 5 and 10 minutes. */
const STEPS: CanaryStep[] = [
  { weight: 1, pause: { durationMs: 2 * MINUTE } },
  { weight: 5, pause: { durationMs: 5 * MINUTE } },
  { weight: 25, pause: { durationMs: 10 * MINUTE } },
  { weight: 100 },
];
const INTERVAL = 30 * SECOND;

function canary(steps: CanaryStep[] = STEPS, analysis: Partial<AnalysisSpec> = {}): CanaryStrategy {
  return {
    kind: 'canary',
    steps,
    analysis: {
      intervalMs: INTERVAL,
      failureLimit: 1,
      inconclusiveLimit: 3,
      metrics: [{ kind: 'prometheus', name: METRIC, url: 'http://prometheus:9090', query: 'sum(rate(http_errors{version="{{version}}"}[1m]))', failIf: { op: '>', value: THRESHOLD } }],
      ...analysis,
    },
  };
}

let testEnv: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let queueNo = 0;

before(async () => {
  bundle = await bundleWorkflows();
});

/** A measurement as the fake Prometheus saw it: server (skipped) time and the canary's weight then. */
interface Measured {
  at: number;
  weight: number;
}

/**
 * The world's activities, with every measurement's time recorded (the activity's scheduled
 * time is the server's clock, which skips) and a hook a test may use to change the world
 * right before a measurement.
 */
function activitiesOf(world: FakeWorld, measured: Measured[], beforeMeasure?: (n: number) => Promise<void> | void): Activities {
  const acts = world.activities();
  return {
    ...acts,
    async measurePrometheus(input) {
      await beforeMeasure?.(measured.length);
      const r = [...world.hosts.values()][0]?.router;
      measured.push({ at: Context.current().info.scheduledTimestampMs, weight: r?.canary?.weight ?? (r?.color === input.vars.color ? 100 : 0) });
      return acts.measurePrometheus(input);
    },
  };
}

interface Run {
  tq: string;
  env: string;
  measured: Measured[];
}

/**
 * Run `fn` with a worker whose activities act on `world`. Each test gets its own time-skipping
 * server: timers a finished test leaves behind must not hold time still for the next one.
 */
async function withWorker<T>(
  world: FakeWorld,
  fn: (run: Run) => Promise<T>,
  opts: { beforeMeasure?: (n: number) => Promise<void> | void; activities?: (a: Activities) => Activities } = {},
): Promise<T> {
  const taskQueue = `canary-${++queueNo}`;
  const measured: Measured[] = [];
  testEnv = await startTimeSkipping();
  try {
    const base = activitiesOf(world, measured, opts.beforeMeasure);
    const worker = await Worker.create({
      connection: testEnv.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: opts.activities ? opts.activities(base) : base,
    });
    return await worker.runUntil(fn({ tq: taskQueue, env: `env${queueNo}`, measured }));
  } finally {
    await testEnv.teardown();
  }
}

const hosts = ['web1', 'web2'];

/** A world where v1 is live in blue on every host and v2 measures as healthy. */
function blueV1(): FakeWorld {
  const world = new FakeWorld(hosts, { color: 'blue', version: 'v1' });
  world.setMetric(METRIC, 'v2', PASSING);
  world.setMetric(METRIC, 'v3', PASSING);
  return world;
}

const canaryPlan = (env: string, strategy: CanaryStrategy = canary(), extra: { slackChannel?: string } = {}): Plan =>
  fakePlan(hosts, { env, strategy, ...extra });

/** The canary's own status; the child may not exist yet. */
async function canaryStatus(deployId: string): Promise<CanaryStatus> {
  for (let i = 0; ; i++) {
    try {
      return await testEnv.client.workflow.getHandle(deployId).query(canaryQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError) || i > 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Wait until the canary's status matches, moving the server's clock `stepMs` at a time (0: in
 * real time). Small steps: the test sees each state before the next interval's timer fires.
 */
async function waitForCanary(deployId: string, pred: (s: CanaryStatus) => boolean, stepMs = 0, timeoutMs = 30_000): Promise<CanaryStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await canaryStatus(deployId);
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`canary status never matched; last: ${JSON.stringify(s)}`);
    if (stepMs > 0) await testEnv.sleep(stepMs);
    else await new Promise((r) => setTimeout(r, 50));
  }
}

const deployFinished = (id: string) => (st: EnvState) => st.running === null && st.recent.some((op) => op.id === id);

/** The weights the world's first router took, in order (one `weigh` event per host and change). */
const weights = (world: FakeWorld, host = 'web1'): number[] => world.events.filter((e) => e.op === 'weigh' && e.host === host).map((e) => e.weight ?? -1);

/** The failure a child ended with (its type and message), from childResult's rejection. */
async function childFailure(deployId: string): Promise<{ type?: string; message: string }> {
  try {
    await childResult(testEnv.client, deployId);
  } catch (err) {
    const cause = (err as { cause?: { cause?: { type?: string; message?: string } } }).cause?.cause;
    return { type: cause?.type, message: cause?.message ?? String(err) };
  }
  assert.fail(`${deployId} succeeded`);
}

