// An in-memory ALB listener and CodeDeploy for workflow tests on the time-skipping server: the
// listener's weights and cutover's tags (judged by the real pure readers), the version each
// colour's instances run, and CodeDeploy deployments that take time, can fail at a chosen hook,
// and are stopped with auto-rollback when the activity is cancelled.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { createAlbActivities } from '../../../activities/alb';
import type { createCloudWatchActivities } from '../../../activities/cloudwatch';
import { breaches, describeFailIf } from '../../../contract/analysis';
import { formatWeights, judgeListener, type Recorded, type Weights } from '../../../activities/alb/listener';
import { awsFailure } from '../../../activities/aws/errors';
import { CODEDEPLOY_ERROR, type createCodeDeployActivities } from '../../../activities/codedeploy';
import type { Color } from '../../../contract';

export const HOOKS = ['ApplicationStop', 'BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService'] as const;
export type Hook = (typeof HOOKS)[number];

export interface AwsEvent {
  op: 'weights' | 'deploy' | 'stop-deployment' | 'rollback-deployment';
  weights?: string;
  color?: Color;
  version?: string;
}

export class FakeAws {
  weights: Weights = { blue: 100, green: 0 };
  record: Recorded | null = null;
  /** What the instances of each colour run. */
  readonly running: Record<Color, string | null> = { blue: null, green: null };
  readonly events: AwsEvent[] = [];
  /** Version → the hook its deployment fails at. */
  readonly failAt = new Map<string, Hook>();
  /** How long each hook takes (fake time). */
  hookMs = 1000;
  /** Versions whose deployment never ends (for timeouts and cancellation). */
  readonly hang = new Set<string>();
  /** The next AWS call fails with this error code (e.g. AccessDenied), then calls succeed again. */
  failNext: { code: string; message: string; status: number } | null = null;
  /** Every call fails with this code while set. */
  failAll: { code: string; message: string; status: number } | null = null;
  /** CloudWatch: metric name → version → value, seen while the version's group takes traffic. */
  readonly cloudwatch = new Map<string, Map<string, number>>();

  setByConsole(w: Weights): void {
    this.weights = { ...w };
  }

  serving(): Color {
    return this.weights.blue >= this.weights.green ? 'blue' : 'green';
  }

  check(what: string): void {
    const e = this.failAll ?? this.failNext;
    this.failNext = null;
    if (e) throw awsFailure(what, Object.assign(new Error(e.message), { name: e.code, $fault: 'client', $metadata: { httpStatusCode: e.status } }));
  }
}

type Alb = ReturnType<typeof createAlbActivities>;
type CloudWatch = ReturnType<typeof createCloudWatchActivities>;
type CodeDeploy = ReturnType<typeof createCodeDeployActivities>;

export function fakeAws(aws: FakeAws): Alb & CodeDeploy & CloudWatch {
  return {
    async measureCloudWatch({ metric, color }) {
      const version = aws.running[color];
      const value = aws.weights[color] > 0 && version ? aws.cloudwatch.get(metric.name)?.get(version) : undefined;
      const threshold = describeFailIf(metric.failIf);
      if (value === undefined) return { metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail: 'no datapoint' };
      return { metric: metric.name, verdict: breaches(metric.failIf, value) ? 'fail' : 'pass', value, threshold, detail: `${metric.metricName} = ${value}` };
    },
    async albReadListener() {
      aws.check('DescribeListeners');
      const versions = aws.record?.versions ?? {};
      return { ...judgeListener({ ok: true, weights: { ...aws.weights } }, aws.record), weights: { ...aws.weights }, versions };
    },
    async albSetWeights({ weights, versions }) {
      aws.check('ModifyListener');
      aws.weights = { ...weights };
      aws.record = { weights: { ...weights }, versions: { ...(aws.record?.versions ?? {}), ...versions } };
      aws.events.push({ op: 'weights', weights: formatWeights(weights) });
      return { weights: formatWeights(weights) };
    },
    async albWaitHealthy({ color }) {
      aws.check('DescribeTargetHealth');
      if (aws.running[color] === null) throw ApplicationFailure.nonRetryable(`${color} target group: 1 of 1 target(s) not healthy`, 'HealthCheckFailed');
      return { healthy: 1, total: 1, notHealthy: [] };
    },
    async albVerify({ version }) {
      const served = aws.running[aws.serving()];
      if (served !== version) throw ApplicationFailure.nonRetryable(`the load balancer did not answer as ${version} (it serves ${served ?? 'nothing'})`, 'VerifyFailed');
      return { requests: 5 };
    },
    async codeDeploy({ platform, color, version }) {
      aws.check('CreateDeployment');
      const ctx = Context.current();
      const id = `d-FAKE${aws.events.length}`;
      aws.events.push({ op: 'deploy', color, version });
      const before = aws.running[color];
      const started = Date.now();
      try {
        for (const hook of HOOKS) {
          if (hook === 'ApplicationStart') aws.running[color] = version;
          do {
            ctx.heartbeat({ deploymentId: id, status: 'InProgress' });
            await ctx.sleep(aws.hookMs);
            if (Date.now() - started > platform.deployTimeoutMs) {
              aws.events.push({ op: 'stop-deployment', color, version }, { op: 'rollback-deployment', color, version: before ?? undefined });
              aws.running[color] = before;
              throw ApplicationFailure.nonRetryable(`CodeDeploy deployment ${id} still InProgress after ${platform.deployTimeoutMs} ms; stopped it with auto-rollback`, CODEDEPLOY_ERROR.timedOut);
            }
          } while (aws.hang.has(version));
          if (aws.failAt.get(version) === hook) {
            aws.events.push({ op: 'rollback-deployment', color, version: before ?? undefined });
            aws.running[color] = before;
            throw ApplicationFailure.nonRetryable(`CodeDeploy deployment ${id} of ${version} to ${platform.deploymentGroups[color]} failed: i-fake ${hook}: ScriptFailed`, CODEDEPLOY_ERROR.failed);
          }
        }
      } catch (err) {
        if (err instanceof CancelledFailure) {
          aws.events.push({ op: 'stop-deployment', color, version }, { op: 'rollback-deployment', color, version: before ?? undefined });
          aws.running[color] = before;
        }
        throw err;
      }
      return { deploymentId: id, status: 'Succeeded', ms: Date.now() - started };
    },
  };
}
