// Pure builders for the CloudWatch canary metric: the ALB dimensions of a colour's target group,
// the GetMetricData queries, and the verdict on what came back.
import type { MetricDataQuery, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { breaches, describeFailIf, type Measurement } from '../../contract/analysis';
import type { AlbRouter, CloudWatchMetric } from '../../contract/aws';
import type { Color } from '../../contract/spec';

/** `arn:...:targetgroup/shop-green/0123` → `targetgroup/shop-green/0123`; `arn:...:listener/app/shop/50dc/f2f7` → `app/shop/50dc`. */
export function albDimensions(router: AlbRouter, color: Color): { Name: string; Value: string }[] {
  const tg = /:(targetgroup\/[^/]+\/[^/]+)$/.exec(router.targetGroups[color])?.[1];
  const lb = /:listener\/(app\/[^/]+\/[^/]+)\/[^/]+$/.exec(router.listenerArn)?.[1];
  if (!tg || !lb) throw new Error(`cannot read the ALB dimensions from ${router.targetGroups[color]} and ${router.listenerArn}`);
  return [
    { Name: 'TargetGroup', Value: tg },
    { Name: 'LoadBalancer', Value: lb },
  ];
}

export function metricQueries(metric: CloudWatchMetric, router: AlbRouter, color: Color): MetricDataQuery[] {
  const stat = (name: string, s: string, id: string): MetricDataQuery => ({
    Id: id,
    MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: name, Dimensions: albDimensions(router, color) }, Period: metric.periodSeconds, Stat: s },
    ReturnData: true,
  });
  return metric.per ? [stat(metric.metricName, 'Sum', 'value'), stat(metric.per, 'Sum', 'per')] : [stat(metric.metricName, metric.stat, 'value')];
}

/** The latest period's value (divided by `per` when given) judged by failIf; no datapoint is inconclusive. */
export function judgeMetricData(metric: CloudWatchMetric, results: readonly MetricDataResult[]): Measurement {
  const threshold = describeFailIf(metric.failIf);
  const latest = (id: string): { at: number; value: number } | undefined => {
    const r = results.find((x) => x.Id === id);
    const pairs = (r?.Timestamps ?? []).map((t, i) => ({ at: new Date(t).getTime(), value: r?.Values?.[i] })).filter((p): p is { at: number; value: number } => typeof p.value === 'number');
    return pairs.sort((a, b) => b.at - a.at)[0];
  };
  const v = latest('value');
  const base = { metric: metric.name, threshold };
  if (!metric.per) {
    if (!v) return { ...base, verdict: 'inconclusive', value: null, detail: `no ${metric.metricName} datapoint in the last periods` };
    return { ...base, verdict: breaches(metric.failIf, v.value) ? 'fail' : 'pass', value: v.value, detail: `${metric.metricName} ${metric.stat} = ${v.value}` };
  }
  const d = latest('per');
  if (!d || d.value === 0) return { ...base, verdict: 'inconclusive', value: null, detail: `no ${metric.per} in the last periods (no traffic to the canary)` };
  const ratio = (v?.value ?? 0) / d.value;
  return { ...base, verdict: breaches(metric.failIf, ratio) ? 'fail' : 'pass', value: ratio, detail: `${metric.metricName} ${v?.value ?? 0} / ${metric.per} ${d.value}` };
}
