// The `alb` activities over @aws-sdk/client-elastic-load-balancing-v2: read the listener (the
// truth about which colour is live), set its weights, wait for a group's targets to be healthy,
// and verify what the load balancer serves. Credentials: the SDK's default chain only.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  AddTagsCommand,
  DescribeListenersCommand,
  DescribeTagsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AlbRouter } from '../../contract/aws';
import { ACTIVITY_ERROR } from '../../contract/failures';
import type { Color, VerifySpec } from '../../contract/spec';
import { awsCall } from '../aws/errors';
import { pollDelay } from '../aws/poll';
import { forwardAction, formatWeights, judgeListener, readForward, readRecord, recordTags, type LiveReading, type Weights } from './listener';
import { perRegion } from '../aws/clients';

export interface AlbDeps {
  /** A client per region; default: the SDK's own (default credential chain, AWS_ENDPOINT_URL*). */
  client?: (region: string) => ElasticLoadBalancingV2Client;
  fetch?: typeof fetch;
}

export interface ListenerInput {
  region: string;
  router: AlbRouter;
}
export interface SetWeightsInput extends ListenerInput {
  weights: Weights;
  /** The version in each colour, noted on the listener next to the weights. */
  versions: Partial<Record<Color, string>>;
}
export interface WaitHealthyInput extends ListenerInput {
  color: Color;
  timeoutMs: number;
  pollIntervalMs: number;
}
export interface TargetsHealth {
  healthy: number;
  total: number;
  /** `127.0.0.1:18001 unhealthy (Target.FailedHealthChecks)` */
  notHealthy: string[];
}
export interface VerifyAlbInput {
  url: string;
  version: string;
  verify: VerifySpec;
  timeoutMs: number;
}

export function createAlbActivities(deps: AlbDeps = {}) {
  const client = perRegion((region) => deps.client?.(region) ?? new ElasticLoadBalancingV2Client({ region, maxAttempts: 4 }));
  const doFetch = deps.fetch ?? fetch;

  async function readListenerState({ region, router }: ListenerInput): Promise<LiveReading & { weights?: Weights; versions: Partial<Record<Color, string>> }> {
    const c = client(region);
    const [listeners, tags] = await Promise.all([
      awsCall('DescribeListeners', () => c.send(new DescribeListenersCommand({ ListenerArns: [router.listenerArn] }))),
      awsCall('DescribeTags', () => c.send(new DescribeTagsCommand({ ResourceArns: [router.listenerArn] }))),
    ]);
    const reading = readForward(router, listeners.Listeners?.[0]?.DefaultActions);
    const record = readRecord(tags.TagDescriptions?.[0]?.Tags);
    return { ...judgeListener(reading, record), ...(reading.ok ? { weights: reading.weights } : {}), versions: record?.versions ?? {} };
  }

  async function targetsHealth(region: string, targetGroupArn: string): Promise<TargetsHealth> {
    const out = await awsCall('DescribeTargetHealth', () => client(region).send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })));
    const all = out.TargetHealthDescriptions ?? [];
    const notHealthy = all
      .filter((t) => t.TargetHealth?.State !== 'healthy')
      .map((t) => `${t.Target?.Id ?? '?'}:${t.Target?.Port ?? '?'} ${t.TargetHealth?.State ?? 'unknown'}${t.TargetHealth?.Reason ? ` (${t.TargetHealth.Reason})` : ''}`);
    return { healthy: all.length - notHealthy.length, total: all.length, notHealthy };
  }

  return {
    /** What the listener forwards, judged against the weights cutover last noted on it. Reads only. */
    albReadListener: readListenerState,

    /** Point the listener at `weights` in one ModifyListener call, then note them (and the versions) on it. */
    async albSetWeights(input: SetWeightsInput): Promise<{ weights: string }> {
      const c = client(input.region);
      const { router } = input;
      await awsCall('ModifyListener', () => c.send(new ModifyListenerCommand({ ListenerArn: router.listenerArn, DefaultActions: forwardAction(router, input.weights) })));
      const now = await readListenerState(input).catch(() => undefined);
      const versions = { ...(now?.versions ?? {}), ...input.versions };
      await awsCall('AddTags', () => c.send(new AddTagsCommand({ ResourceArns: [router.listenerArn], Tags: recordTags(input.weights, versions) })));
      return { weights: formatWeights(input.weights) };
    },

    /** Wait until every target of the colour's group is healthy (at least one), heartbeating. */
    async albWaitHealthy(input: WaitHealthyInput): Promise<TargetsHealth> {
      const ctx = Context.current();
      const arn = input.router.targetGroups[input.color];
      const deadline = Date.now() + input.timeoutMs;
      let polls = 0;
      for (;;) {
        const h = await targetsHealth(input.region, arn);
        ctx.heartbeat(h);
        if (h.total > 0 && h.notHealthy.length === 0) return h;
        if (Date.now() >= deadline) {
          throw ApplicationFailure.create({
            type: ACTIVITY_ERROR.healthCheckFailed,
            nonRetryable: true,
            message: `${input.color} target group: ${h.total === 0 ? 'no registered targets' : `${h.notHealthy.length} of ${h.total} target(s) not healthy: ${h.notHealthy.join(', ')}`} after ${input.timeoutMs} ms`,
          });
        }
        await ctx.sleep(pollDelay(polls++, input.pollIntervalMs));
      }
    },

    /**
     * `verify.requests` answers in a row through the load balancer must come from `version`; a
     * version cutover never recorded (`unknown`: the group served before cutover drove the
     * listener) only has to answer successfully.
     */
    async albVerify(input: VerifyAlbInput): Promise<{ requests: number }> {
      const ctx = Context.current();
      const header = input.verify.versionHeader;
      const seen: string[] = [];
      const deadline = Date.now() + input.timeoutMs * input.verify.requests;
      let inRow = 0;
      while (inRow < input.verify.requests) {
        let got: string;
        try {
          const res = await doFetch(input.url, { signal: AbortSignal.timeout(input.timeoutMs) });
          await res.arrayBuffer();
          got = res.ok ? (res.headers.get(header) ?? `no ${header}`) : `HTTP ${res.status}`;
        } catch (err) {
          got = err instanceof Error ? (err.name === 'TimeoutError' ? 'timeout' : String((err.cause as { code?: string } | undefined)?.code ?? err.message)) : String(err);
        }
        seen.push(got);
        ctx.heartbeat({ answers: seen.length });
        const ok = input.version === 'unknown' ? !/^(HTTP \d|timeout|no |E[A-Z]+)/.test(got) : got === input.version;
        inRow = ok ? inRow + 1 : 0;
        if (inRow === 0) await new Promise((r) => setTimeout(r, 100));
        if (inRow < input.verify.requests && Date.now() > deadline) {
          throw ApplicationFailure.create({
            type: ACTIVITY_ERROR.verifyFailed,
            nonRetryable: true,
            message: `the load balancer at ${input.url} did not answer as ${input.version} ${input.verify.requests} times in a row; last answers: ${seen.slice(-5).join(', ')}`,
          });
        }
      }
      return { requests: seen.length };
    },
  };
}
