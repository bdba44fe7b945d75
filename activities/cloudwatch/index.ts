// The `cloudwatch` activity over @aws-sdk/client-cloudwatch: measure a canary metric of the
// canary colour's target group. Trouble reaching CloudWatch is an inconclusive measurement (the
// analysis's inconclusiveLimit decides); access denied is reported as such in the detail.
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { Measurement } from '../../contract/analysis';
import { describeFailIf } from '../../contract/analysis';
import type { AlbRouter, CloudWatchMetric } from '../../contract/aws';
import type { Color } from '../../contract/spec';
import { classifyAwsError } from '../aws/errors';
import { judgeMetricData, metricQueries } from './query';
import { perRegion } from '../aws/clients';

export interface CloudWatchDeps {
  client?: (region: string) => CloudWatchClient;
  now?: () => number;
}

export interface MeasureCloudWatchInput {
  metric: CloudWatchMetric;
  region: string;
  router: AlbRouter;
  color: Color;
}

export function createCloudWatchActivities(deps: CloudWatchDeps = {}) {
  const client = perRegion((region) => deps.client?.(region) ?? new CloudWatchClient({ region, maxAttempts: 3 }));
  return {
    async measureCloudWatch(input: MeasureCloudWatchInput): Promise<Measurement> {
      const { metric } = input;
      // The end reaches into the next period: the current, still filling period counts too.
      const end = (deps.now?.() ?? Date.now()) + metric.periodSeconds * 1000;
      try {
        const out = await client(input.region).send(
          new GetMetricDataCommand({
            MetricDataQueries: metricQueries(metric, input.router, input.color),
            StartTime: new Date(end - 6 * metric.periodSeconds * 1000),
            EndTime: new Date(end),
            ScanBy: 'TimestampDescending',
          }),
        );
        return judgeMetricData(metric, out.MetricDataResults ?? []);
      } catch (err) {
        const v = classifyAwsError(err);
        return { metric: metric.name, verdict: 'inconclusive', value: null, threshold: describeFailIf(metric.failIf), detail: `GetMetricData: ${v.code}: ${v.message}` };
      }
    },
  };
}
