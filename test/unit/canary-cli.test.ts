// The pure parts of the canary controls in the CLI: `cutover status` lines for a canary in each
// state, the line each of promote / pause / resume / abort ends with, and how a refusal, an
// ended canary or a silent worker map to exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import { ACTIVITY_ERROR, FAILURE, type CanaryStatus, type CanaryStrategy, type EnvState, type Measurement, type QueuedOperation } from '../../contract';
import { controlCanary, refusalReason, type SendUpdate } from '../../starters/canary-control';
import { checkReason } from '../../starters/text-input';
import { acceptedLine, findCanary, stepAfter, type CanaryRequest, type CanaryTarget } from '../../starters/canary-text';
import { classify } from '../../starters/classify';
import { failureExitCode, failureTypeOf } from '../../starters/follow';
import { formatStatus } from '../../starters/format';
import { CliError, EXIT, Output, type Io } from '../../starters/output';
import { fakePlan } from '../support/plans';

const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);
const URL = 'http://ui/namespaces/default/workflows/env%2Fshop%2Fprod';
const ID = 'deploy/shop/prod/x';

const strategy: CanaryStrategy = {
  kind: 'canary',
  steps: [{ weight: 5, pause: { durationMs: 300_000 } }, { weight: 25, pause: {} }, { pause: { durationMs: 60_000 } }],
  analysis: { intervalMs: 30_000, failureLimit: 1, inconclusiveLimit: 3, metrics: [] },
};
const plan = fakePlan(['web1', 'web2'], { strategy });

const status = (over: Partial<CanaryStatus> = {}): CanaryStatus => ({
  step: 0,
  steps: 4,
  weight: 5,
  paused: false,
  awaitingPromotion: false,
  pauseEndsAt: null,
  phase: 'progressing',
  lastMeasurements: [],
  ...over,
});

const running = (canary: CanaryStatus | undefined, over: Partial<QueuedOperation> = {}): QueuedOperation => ({
  kind: 'deploy',
  id: ID,
  version: 'v2',
  by: 'alice',
  strategy: 'canary',
  ...(canary ? { canary } : {}),
  ...over,
});

const state = (op: QueuedOperation | null, live: EnvState['live'] = { color: 'blue', version: 'v1', deployId: 'deploy/shop/prod/old' }): EnvState => ({
  app: 'shop',
  env: 'prod',
  live,
  previous: null,
  running: op,
  queue: [],
  scheduled: [],
  recent: [],
  rejected: [],
  plan,
});

/** The lines of `cutover status` from `canary:` to the next heading. */
const canaryLines = (s: EnvState): string[] => {
  const lines = formatStatus(s, NOW, URL);
  const start = lines.findIndex((l) => l.startsWith('canary:'));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('queued:'));
  return lines.slice(start, end);
};

test('status: a canary in each state', () => {
  const at = (over: Partial<CanaryStatus>): string[] => canaryLines(state(running(status(over))));
  assert.deepEqual(at({ step: 1, weight: 5, pauseEndsAt: NOW + 250_000 }), ['canary:    step 2/4, 5% to green (v2), next step in 4m 10s']);
  assert.deepEqual(at({ step: 1, pauseEndsAt: NOW - 3000 }), ['canary:    step 2/4, 5% to green (v2), next step now']);
  assert.deepEqual(at({ step: 1, paused: true }), ['canary:    step 2/4, 5% to green (v2), paused by hand']);
  assert.deepEqual(at({ step: 1, weight: 25, awaitingPromotion: true }), ['canary:    step 2/4, 25% to green (v2), waiting for cutover promote']);
  assert.deepEqual(at({ step: 1, paused: true, awaitingPromotion: true }), ['canary:    step 2/4, 5% to green (v2), paused by hand, waiting for cutover promote']);
  assert.deepEqual(at({ step: 0, weight: 5 }), ['canary:    step 1/4, 5% to green (v2)']);
  assert.deepEqual(at({ phase: 'starting', weight: 0 }), ['canary:    starting green (v2): no traffic until it is healthy']);
  assert.deepEqual(at({ phase: 'promoting', step: 3, weight: 25 }), ['canary:    switching all traffic to green (v2)']);
  assert.deepEqual(at({ phase: 'aborting', weight: 25 }), ['canary:    rolling back from 25%: every host back to blue (v1)']);
  assert.deepEqual(at({ phase: 'done', step: 3, weight: 100 }), ['canary:    green (v2) takes all traffic']);
  // Before the canary's first report (still reading the hosts), and with nothing live yet.
  assert.deepEqual(canaryLines(state(running(undefined))), ['canary:    starting green (v2): no traffic until it is healthy']);
  // Without the environment's record of what is live, the canary finds the colour on the hosts: not named.
  assert.deepEqual(canaryLines(state(running(undefined), null)), ['canary:    starting v2: no traffic until it is healthy']);
  assert.deepEqual(canaryLines(state(running(status({ step: 1, paused: true })), null)), ['canary:    step 2/4, 5% to v2, paused by hand']);
  assert.deepEqual(canaryLines(state(running(status({ phase: 'aborting', weight: 5 })), null)), ['canary:    rolling back from 5%: every host back to the stable colour']);
});

test('status: the last measurements, and the line right under running:', () => {
  const measurements: Measurement[] = [
    { metric: 'error-rate', verdict: 'pass', value: 0.00213, threshold: 'fail if > 0.01', detail: '2 series' },
    { metric: 'latency-p99', verdict: 'inconclusive', value: null, threshold: 'fail if > 0.5', detail: 'no data' },
    { metric: 'health', verdict: 'fail', value: 500, threshold: 'HTTP 200 on every host', detail: 'web2 answered 500' },
  ];
  const lines = formatStatus(state(running(status({ step: 1, pauseEndsAt: NOW + 60_000, lastMeasurements: measurements }))), NOW, URL);
  const i = lines.indexOf('running:   deploy deploy/shop/prod/x (v2) by alice');
  assert.ok(i > 0, lines.join('\n'));
  assert.deepEqual(lines.slice(i + 1, i + 5), [
    'canary:    step 2/4, 5% to green (v2), next step in 1m',
    'measured:  error-rate = 0.00213 (fail if > 0.01): pass',
    '           latency-p99 = no value (fail if > 0.5): inconclusive (no data)',
    '           health = 500 (HTTP 200 on every host): fail (web2 answered 500)',
  ]);
});

test('status: no canary line for a blue-green deploy, a rollback or nothing', () => {
  assert.deepEqual(canaryLines(state(running(undefined, { strategy: 'blueGreen' }))), []);
  assert.deepEqual(canaryLines(state(running(undefined, { strategy: undefined }))), []);
  assert.deepEqual(canaryLines(state({ kind: 'rollback', id: 'rollback/shop/prod/r', by: 'bob' })), []);
  assert.deepEqual(canaryLines(state(null)), []);
});

test('findCanary: the running canary, or why there is none, naming the environment', () => {
  const found = findCanary(state(running(status())), 'shop', 'prod');
  assert.ok('target' in found);
  assert.deepEqual(found.target, { app: 'shop', env: 'prod', id: ID, version: 'v2', live: state(null).live, plan });
  const none = (s: EnvState | null): string => {
    const r = findCanary(s, 'shop', 'prod');
    assert.ok('none' in r);
    return r.none;
  };
  assert.equal(none(null), 'no canary is running in shop/prod (nothing is running)');
  assert.equal(none(state(null)), 'no canary is running in shop/prod (nothing is running)');
  assert.equal(
    none(state(running(undefined, { strategy: 'blueGreen' }))),
    'no canary is running in shop/prod (running: deploy/shop/prod/x, a blue-green deploy, which has no steps to control)',
  );
  // Deploys queued before strategies existed carry none: they are blue-green.
  assert.match(none(state(running(undefined, { strategy: undefined }))), /a blue-green deploy/);
  assert.equal(none(state({ kind: 'teardown', id: 'deploy/shop/prod/old:teardown', by: 'cutover' })), 'no canary is running in shop/prod (running: teardown deploy/shop/prod/old:teardown)');
});

test('stepAfter: the step a promotion moves to, as the canary runs its steps', () => {
  assert.deepEqual(stepAfter(status({ step: 0, weight: 5 }), strategy), { step: 1, weight: 25 });
  // A step without a weight keeps the weight in force.
  assert.deepEqual(stepAfter(status({ step: 1, weight: 25 }), strategy), { step: 2, weight: 25 });
  // The appended 100% step.
  assert.deepEqual(stepAfter(status({ step: 2, weight: 25 }), strategy), { step: 3, weight: 100 });
  // Nothing was live: a single 100% step.
  assert.deepEqual(stepAfter(status({ steps: 1, weight: 0 }), strategy), { step: 0, weight: 100 });
  // A plan that does not match the status (or none): unknown.
  assert.equal(stepAfter(status({ steps: 7 }), strategy), undefined);
  assert.equal(stepAfter(status(), undefined), undefined);
});

const target: CanaryTarget = { app: 'shop', env: 'prod', id: ID, version: 'v2', live: { color: 'blue', version: 'v1', deployId: 'deploy/shop/prod/old' }, plan };

test('the line each command ends with', () => {
  const line = (r: CanaryRequest, over: Partial<CanaryStatus> = {}, t: CanaryTarget = target): string => acceptedLine(r, t, status(over));
  const promote: CanaryRequest = { action: 'promote', full: false };
  assert.equal(line(promote), 'promoted shop/prod canary deploy/shop/prod/x: from step 1/4 (5%) to step 2/4 (25%)');
  assert.equal(line(promote, { step: 2, weight: 25 }), 'promoted shop/prod canary deploy/shop/prod/x: from step 3/4 (25%) to 100%');
  assert.equal(line({ action: 'promote', full: true }), 'promoted shop/prod canary deploy/shop/prod/x: from step 1/4 (5%) to 100%');
  assert.equal(line({ action: 'promote', full: true }, { phase: 'starting', weight: 0 }), 'promoted shop/prod canary deploy/shop/prod/x: to 100% once green (v2) is healthy');
  assert.equal(
    line(promote, { paused: true }),
    'promoted shop/prod canary deploy/shop/prod/x: from step 1/4 (5%) to step 2/4 (25%); it is paused by hand, so it moves on after cutover resume',
  );
  assert.equal(line(promote, {}, { ...target, plan: null }), 'promoted shop/prod canary deploy/shop/prod/x: from step 1/4 (5%) to step 2/4');

  assert.equal(line({ action: 'pause' }, { paused: true }), 'paused shop/prod canary deploy/shop/prod/x at step 1/4 (5%): it holds there, still measuring, until cutover resume');
  assert.match(line({ action: 'pause' }, { phase: 'starting', paused: true }), /^paused shop\/prod canary deploy\/shop\/prod\/x while it starts: once healthy it takes its first step/);

  assert.equal(line({ action: 'resume' }, { step: 1 }), 'resumed shop/prod canary deploy/shop/prod/x at step 2/4 (5%)');
  assert.equal(line({ action: 'resume' }, { step: 1, weight: 25, awaitingPromotion: true }), 'resumed shop/prod canary deploy/shop/prod/x at step 2/4 (25%); it waits for cutover promote');

  assert.equal(line({ action: 'abort', reason: 'p99 too high' }, { step: 1 }), 'aborting shop/prod canary deploy/shop/prod/x at step 2/4 (5%): every host goes back to blue (v1) (reason: p99 too high)');
  assert.equal(line({ action: 'abort' }), 'aborting shop/prod canary deploy/shop/prod/x at step 1/4 (5%): every host goes back to blue (v1)');
  assert.equal(line({ action: 'abort' }, { phase: 'starting', weight: 0 }), 'aborting shop/prod canary deploy/shop/prod/x while it starts: green (v2) is stopped before it takes any traffic');
  assert.equal(line({ action: 'abort' }, {}, { ...target, live: null }), 'aborting shop/prod canary deploy/shop/prod/x at step 1/4 (5%): every host goes back to the stable colour');
});

/** An Io that records what the CLI printed. */
function recorder(json = false): { out: Output; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = {
    stdout: (l) => stdout.push(l),
    stderr: (l) => stderr.push(l),
    env: {},
    now: () => new Date(NOW),
    random: () => 'abcdef',
    sleep: () => Promise.resolve(),
  };
  return { out: new Output(io, json), stdout, stderr };
}

const DEPLOY_URL = 'http://ui/namespaces/default/workflows/deploy%2Fshop%2Fprod%2Fx';
const refusal = (message: string): WorkflowUpdateFailedError =>
  new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ message, type: 'Error' }));

test('accepted: exit 0, the line, the link, the status in the report', async () => {
  const r = recorder();
  const sent: [CanaryRequest, string][] = [];
  const send: SendUpdate = (req, by) => {
    sent.push([req, by]);
    return Promise.resolve(status({ paused: true }));
  };
  const outcome = await controlCanary(target, { action: 'pause' }, { url: DEPLOY_URL, by: 'carol', send }, r.out);
  assert.deepEqual(sent, [[{ action: 'pause' }, 'carol']]);
  assert.equal(outcome.exitCode, EXIT.ok);
  assert.deepEqual(r.stdout, ['paused shop/prod canary deploy/shop/prod/x at step 1/4 (5%): it holds there, still measuring, until cutover resume', DEPLOY_URL]);
  assert.deepEqual(r.stderr, []);
  assert.deepEqual(outcome.report, { action: 'pause', app: 'shop', env: 'prod', id: ID, url: DEPLOY_URL, by: 'carol', canary: status({ paused: true }) });
});

test('refused by the validator: exit 2 with its reason, on stderr', async () => {
  const r = recorder();
  const send: SendUpdate = () => Promise.reject(refusal('nothing to promote: the canary is already at 100%'));
  const outcome = await controlCanary(target, { action: 'promote', full: false }, { url: DEPLOY_URL, by: 'carol', send }, r.out);
  assert.equal(outcome.exitCode, EXIT.badInput);
  assert.deepEqual(r.stdout, []);
  assert.deepEqual(r.stderr, ['nothing to promote: the canary is already at 100% (shop/prod canary deploy/shop/prod/x)', DEPLOY_URL]);
  assert.equal(outcome.report.error, 'nothing to promote: the canary is already at 100%');
  assert.equal(outcome.report.refused, true);

  assert.equal(refusalReason(refusal('the canary is being rolled back')), 'the canary is being rolled back');
  assert.equal(refusalReason(new WorkflowUpdateFailedError('Workflow Update failed', undefined)), 'refused without a reason');
});

test('the canary ended meanwhile → 2; no answer → 1; anything else is left to classify', async () => {
  const r = recorder();
  const via = (err: Error) => ({ url: DEPLOY_URL, by: 'carol', send: (() => Promise.reject(err)) as SendUpdate });
  const ended = controlCanary(target, { action: 'resume' }, via(new WorkflowNotFoundError('workflow execution already completed', ID, undefined)), r.out);
  await assert.rejects(ended, (err: unknown) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, EXIT.badInput);
    assert.equal(err.message, 'nothing to resume: deploy/shop/prod/x has already ended (see cutover status shop prod)');
    return true;
  });
  const silent = controlCanary(target, { action: 'abort' }, via(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout')), r.out);
  await assert.rejects(silent, (err: unknown) => err instanceof CliError && err.exitCode === EXIT.failed && /no answer from deploy\/shop\/prod\/x within 10s; is a cutover worker polling/.test(err.message));
  const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 });
  await assert.rejects(controlCanary(target, { action: 'pause' }, via(unavailable), r.out), (err: unknown) => classify(err, '127.0.0.1:1').exitCode === EXIT.unreachable);
});

test('nothing running maps to exit 2 through classify, naming the environment', () => {
  const err = new CliError('nothing to promote: no canary is running in shop/prod (nothing is running)', EXIT.badInput);
  assert.deepEqual(classify(err, '127.0.0.1:7233'), { exitCode: 2, message: err.message, details: {} });
});

test('--reason: trimmed to one line; empty or huge is bad input naming the option', () => {
  assert.equal(checkReason(undefined), undefined);
  assert.equal(checkReason('  p99\n too high '), 'p99 too high');
  assert.throws(() => checkReason('  '), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.badInput && e.message.startsWith('--reason: the text is empty'));
  assert.throws(() => checkReason('x'.repeat(501)), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.badInput && /^--reason: 501 characters is too long; keep it to 500/.test(e.message));
});

test('deploy --wait: a failed or aborted canary exits 1; bad input exits 2; an environment not deployable exits 4', () => {
  const failed = (type: string): WorkflowFailedError =>
    new WorkflowFailedError('Workflow execution failed', ApplicationFailure.create({ type, message: 'deploy of v2 to shop/prod failed - rolled back: x', nonRetryable: true }), RetryState.NON_RETRYABLE_FAILURE);
  assert.equal(failureExitCode(failed(FAILURE.canaryFailed)), EXIT.failed);
  assert.equal(failureExitCode(failed(FAILURE.canaryAborted)), EXIT.failed);
  assert.equal(failureExitCode(failed(FAILURE.deployFailed)), EXIT.failed);
  assert.equal(failureExitCode(failed(FAILURE.versionNotInstalled)), EXIT.badInput);
  assert.equal(failureExitCode(new WorkflowFailedError('Workflow execution failed', undefined, RetryState.NON_RETRYABLE_FAILURE)), EXIT.failed);
  assert.equal(failureExitCode(failed(FAILURE.hostsDisagree)), EXIT.refused);
  assert.equal(failureExitCode(failed(FAILURE.notDeployable)), EXIT.refused);
  assert.equal(failureExitCode(failed(FAILURE.nothingToRollBack)), EXIT.refused);
  assert.equal(failureExitCode(failed(ACTIVITY_ERROR.unsafeInput)), EXIT.badInput);
  // A host key refused in preflight reaches the CLI as the activity's failure, unwrapped.
  const activity = (type: string) =>
    new ActivityFailure('Activity task failed', 'readRouter', '1', RetryState.NON_RETRYABLE_FAILURE, 'identity', ApplicationFailure.create({ type, message: 'web1: host key mismatch', nonRetryable: true }));
  const unwrapped = new WorkflowFailedError('Workflow execution failed', activity(ACTIVITY_ERROR.hostKeyRejected), RetryState.NON_RETRYABLE_FAILURE);
  assert.equal(failureTypeOf(unwrapped), 'HostKeyRejected');
  assert.equal(failureExitCode(unwrapped), EXIT.refused);
  // The outermost type decides: a rollback whose verification met a changed host key changed things (1).
  const rolledBack = new WorkflowFailedError(
    'Workflow execution failed',
    ApplicationFailure.create({ type: FAILURE.rollbackFailed, message: 'traffic is back on blue but ...', nonRetryable: true, cause: activity(ACTIVITY_ERROR.hostKeyRejected) }),
    RetryState.NON_RETRYABLE_FAILURE,
  );
  assert.equal(failureExitCode(rolledBack), EXIT.failed);
});
