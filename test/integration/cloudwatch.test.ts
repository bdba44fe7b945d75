// The cloudwatch canary metric against moto_server's CloudWatch: datapoints of the canary
// group's ALB metrics put there, read back by the real activity and judged.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { createCloudWatchActivities } from '../../activities/cloudwatch';
import { albDimensions } from '../../activities/cloudwatch/query';
import type { AlbRouter, CloudWatchMetric } from '../../contract/aws';
import { startMoto, type Moto } from '../support/aws/moto';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
let moto: Moto;
let cw: CloudWatchClient;
const ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
const router: AlbRouter = {
  kind: 'alb',
  listenerArn: `${ARN}:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2`,
  targetGroups: { blue: `${ARN}:targetgroup/shop-blue/0123456789abcdef`, green: `${ARN}:targetgroup/shop-green/fedcba9876543210` },
  url: 'http://127.0.0.1:9/',
};

before(async () => {
  moto = await startMoto(mkdtempSync(join(tmpdir(), 'cutover-cloudwatch-')));
  cw = new CloudWatchClient({ region: 'us-east-1', endpoint: moto.url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});
after(async () => {
  await moto?.stop();
});

const errors: CloudWatchMetric = { kind: 'cloudwatch', name: 'errors', metricName: 'HTTPCode_Target_5XX_Count', stat: 'Sum', per: 'RequestCount', periodSeconds: 60, failIf: { op: '>', value: 0.01 } };

test('the 5xx ratio of the canary group, read from CloudWatch, fails the canary; the stable group is not measured', async () => {
  const put = (color: 'blue' | 'green', name: string, value: number) =>
    cw.send(new PutMetricDataCommand({ Namespace: 'AWS/ApplicationELB', MetricData: [{ MetricName: name, Dimensions: albDimensions(router, color), Value: value, Timestamp: new Date(), Unit: 'Count' }] }));
  await put('green', 'HTTPCode_Target_5XX_Count', 5);
  await put('green', 'RequestCount', 100);
  await put('blue', 'HTTPCode_Target_5XX_Count', 0);
  const acts = createCloudWatchActivities({ client: () => cw });
  const green = await acts.measureCloudWatch({ metric: errors, region: 'us-east-1', router, color: 'green' });
  assert.deepEqual([green.verdict, green.value], ['fail', 0.05], green.detail);
  const blue = await acts.measureCloudWatch({ metric: errors, region: 'us-east-1', router, color: 'blue' });
  assert.equal(blue.verdict, 'inconclusive', 'no RequestCount for blue: no traffic, no verdict');
});

test('CloudWatch unreachable is an inconclusive measurement naming the cause', async () => {
  const down = new CloudWatchClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const m = await createCloudWatchActivities({ client: () => down }).measureCloudWatch({ metric: errors, region: 'us-east-1', router, color: 'green' });
  assert.equal(m.verdict, 'inconclusive');
  assert.match(m.detail, /^GetMetricData: ECONNREFUSED/);
});
