// The AWS seams without I/O: cutover.yml's aws/alb shape, the listener's forward action and
// its drift judgement, CodeDeploy's requests and answers, and how AWS errors are classified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, resolvePlan } from '../../config/load';
import { isAwsPlan } from '../../contract/plan-kinds';
import { allTo, forwardAction, judgeListener, readForward, readRecord, recordTags, split } from '../../activities/alb/listener';
import { AWS_ERROR, awsFailure, classifyAwsError } from '../../activities/aws/errors';
import { pollDelay } from '../../activities/aws/poll';
import { createDeploymentRequest, deploymentState, failedHook, revisionFor } from '../../activities/codedeploy/requests';
import type { AlbRouter, AwsPlatform } from '../../contract/aws';

const TG = (n: string) => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${n}/0123456789abcdef`;
const LISTENER = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2';
const router: AlbRouter = { kind: 'alb', listenerArn: LISTENER, targetGroups: { blue: TG('shop-blue'), green: TG('shop-green') }, url: 'https://shop.example.com/' };

const awsEnv = (extra = '') =>
  [
    'apps:',
    '  shop:',
    '    environments:',
    '      prod:',
    '        aws:',
    '          region: eu-west-1',
    '          codeDeploy: { application: shop, deploymentGroups: { blue: shop-blue, green: shop-green }, revision: "s3://releases/shop/{{version}}.zip", timeout: 8m }',
    `        router: { alb: { listenerArn: "${LISTENER}", targetGroups: { blue: "${TG('shop-blue')}", green: "${TG('shop-green')}" }, url: "https://shop.example.com/" } }`,
    extra,
  ].join('\n');

test('an aws environment resolves to the aws platform and the alb router', () => {
  const plan = resolvePlan(parseConfig(awsEnv()), 'shop', 'prod');
  assert.ok(isAwsPlan(plan));
  assert.deepEqual(plan.platform, {
    kind: 'aws',
    region: 'eu-west-1',
    application: 'shop',
    deploymentGroups: { blue: 'shop-blue', green: 'shop-green' },
    revision: 's3://releases/shop/{{version}}.zip',
    deployTimeoutMs: 8 * 60_000,
    pollIntervalMs: 5000,
  });
  assert.equal(plan.router.kind, 'alb');
  assert.equal(plan.router.targetGroups.green, TG('shop-green'));
});

function issues(text: string): string {
  try {
    parseConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.format();
  }
  assert.fail('expected a ConfigError');
}

test('aws config errors name the path and the fix', () => {
  assert.match(issues(awsEnv('        hosts: [{ name: h, address: 127.0.0.1, user: u, privateKeyPath: /k, hostKey: "SHA256:abc" }]')), /prod: mixes ssh .* and aws/);
  assert.match(issues(awsEnv().replace('{{version}}.zip', 'latest.zip')), /codeDeploy\.revision: must contain \{\{version\}\}/);
  assert.match(issues(awsEnv().replace('eu-west-1\n', 'Ireland\n')), /aws\.region: must be an AWS region like eu-west-1/);
  assert.match(issues(awsEnv().replace(`listenerArn: "${LISTENER}"`, 'listenerArn: my-listener')), /router\.alb\.listenerArn: must be the ARN of the listener/);
  const noAlb = awsEnv().split('\n').filter((l) => !l.includes('router:')).join('\n') + '        router: {}\n';
  assert.match(issues(noAlb), /prod\.router\.alb: missing; the aws platform needs router: \{alb:/);
});

test('the forward action keeps both groups, one weight each', () => {
  const [action] = forwardAction(router, allTo('green'));
  assert.deepEqual(action?.ForwardConfig?.TargetGroups, [
    { TargetGroupArn: TG('shop-blue'), Weight: 0 },
    { TargetGroupArn: TG('shop-green'), Weight: 100 },
  ]);
  assert.deepEqual(split('green', 10), { blue: 10, green: 90 });
  assert.deepEqual(readForward(router, forwardAction(router, split('blue', 10))), { ok: true, weights: { blue: 90, green: 10 } });
  // ALB weights are relative: 1 and 3 are 25% and 75%.
  assert.deepEqual(readForward(router, [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG('shop-blue'), Weight: 1 }, { TargetGroupArn: TG('shop-green'), Weight: 3 }] } }]), { ok: true, weights: { blue: 25, green: 75 } });
  const stranger = readForward(router, [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG('other'), Weight: 1 }] } }]);
  assert.equal(stranger.ok, false);
  assert.equal(readForward(router, [{ Type: 'fixed-response' }]).ok, false);
});

test('a listener whose weights are not what cutover noted is drift; what it noted gives the versions', () => {
  const record = readRecord(recordTags(allTo('blue'), { blue: 'v1', green: 'v0' }));
  assert.deepEqual(record, { weights: { blue: 100, green: 0 }, versions: { blue: 'v1', green: 'v0' } });
  assert.deepEqual(judgeListener({ ok: true, weights: allTo('blue') }, record), { state: 'live', color: 'blue', version: 'v1' });
  const drift = judgeListener({ ok: true, weights: { blue: 70, green: 30 } }, record);
  assert.equal(drift.state, 'drifted');
  assert.match(drift.state === 'drifted' ? drift.problem : '', /weights are blue=70,green=30, but cutover last set blue=100,green=0/);
  // Never driven by cutover: all on one group is that group, unknown version; a split is not guessed.
  assert.deepEqual(judgeListener({ ok: true, weights: allTo('green') }, null), { state: 'live', color: 'green', version: null });
  assert.equal(judgeListener({ ok: true, weights: split('blue', 20) }, null).state, 'drifted');
  // A canary cutover set: live is the stable colour, the canary is reported.
  const canary = readRecord(recordTags(split('blue', 10), { blue: 'v1', green: 'v2' }));
  assert.deepEqual(judgeListener({ ok: true, weights: split('blue', 10) }, canary), { state: 'live', color: 'blue', version: 'v1', canary: { color: 'green', weight: 10 } });
});

const platform: AwsPlatform = {
  kind: 'aws',
  region: 'eu-west-1',
  application: 'shop',
  deploymentGroups: { blue: 'shop-blue', green: 'shop-green' },
  revision: 's3://releases/shop/{{version}}.tgz',
  deployTimeoutMs: 600_000,
  pollIntervalMs: 5000,
};

test('CodeDeploy: the revision of a version and the deployment into a colour', () => {
  assert.deepEqual(revisionFor('s3://b/app/{{version}}.zip', '1.2.3'), { revisionType: 'S3', s3Location: { bucket: 'b', key: 'app/1.2.3.zip', bundleType: 'zip' } });
  const req = createDeploymentRequest(platform, 'green', 'v2', 'cutover deploy/shop/prod/x: v2 to green');
  assert.equal(req.deploymentGroupName, 'shop-green');
  assert.deepEqual(req.revision?.s3Location, { bucket: 'releases', key: 'shop/v2.tgz', bundleType: 'tgz' });
  assert.deepEqual(req.autoRollbackConfiguration, { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] });
});

test('CodeDeploy: what a deployment answer means, and which hook failed', () => {
  assert.deepEqual(deploymentState({ status: 'InProgress' }), { done: false, status: 'InProgress', overview: '' });
  assert.equal(deploymentState({ status: 'Succeeded' }).done, true);
  const failed = deploymentState({ status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS', message: 'too many instances failed' } });
  assert.deepEqual(failed.done && !failed.succeeded ? failed.reason : '', 'HEALTH_CONSTRAINTS: too many instances failed');
  assert.equal(
    failedHook([{ instanceTarget: { targetId: 'i-1', lifecycleEvents: [{ lifecycleEventName: 'ApplicationStart', status: 'Succeeded' }, { lifecycleEventName: 'ValidateService', status: 'Failed', diagnostics: { errorCode: 'ScriptFailed', message: 'health 503' } }] } }]),
    'i-1 ValidateService: ScriptFailed: health 503',
  );
});

test('AWS errors keep their code; throttling is retried, refusals are not', () => {
  const err = (name: string, status: number, fault = 'client') => Object.assign(new Error(`${name} happened`), { name, $fault: fault, $metadata: { httpStatusCode: status } });
  assert.equal(classifyAwsError(err('ThrottlingException', 400)).type, AWS_ERROR.throttled);
  assert.equal(classifyAwsError(err('Throttling', 400)).type, AWS_ERROR.throttled);
  assert.equal(classifyAwsError(err('AccessDenied', 403)).type, AWS_ERROR.accessDenied);
  assert.equal(classifyAwsError(err('ValidationError', 400)).type, AWS_ERROR.rejected);
  assert.equal(classifyAwsError(err('InternalFailure', 500, 'server')).type, AWS_ERROR.failed);
  assert.equal(classifyAwsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).type, AWS_ERROR.unreachable);
  const denied = awsFailure('ModifyListener', err('AccessDenied', 403));
  assert.equal(denied.type, 'AwsAccessDenied');
  assert.equal(denied.nonRetryable, true);
  assert.match(denied.message, /^ModifyListener: AccessDenied: AccessDenied happened$/);
  assert.equal(awsFailure('GetDeployment', err('ThrottlingException', 400)).nonRetryable, false);
});

test('a cloudwatch canary metric: config, ALB dimensions of the canary group, queries and verdicts', async () => {
  const { albDimensions, judgeMetricData, metricQueries } = await import('../../activities/cloudwatch/query');
  const text = awsEnv(
    [
      '        strategy:',
      '          canary:',
      '            steps: [{ weight: 10, pause: 5m }, { weight: 50, pause: 5m }, { weight: 100 }]',
      '            analysis:',
      '              metrics:',
      '                - { name: errors, cloudwatch: { metric: HTTPCode_Target_5XX_Count, per: RequestCount, period: 60s }, failIf: "> 0.01" }',
      '                - { name: p99, cloudwatch: { metric: TargetResponseTime, stat: p99 }, failIf: "> 0.5" }',
    ].join('\n'),
  );
  const plan = resolvePlan(parseConfig(text), 'shop', 'prod');
  assert.ok(plan.strategy.kind === 'canary');
  assert.deepEqual(plan.strategy.analysis.metrics[0], { kind: 'cloudwatch', name: 'errors', metricName: 'HTTPCode_Target_5XX_Count', stat: 'Sum', per: 'RequestCount', periodSeconds: 60, failIf: { op: '>', value: 0.01 } });
  assert.deepEqual(albDimensions(router, 'green'), [
    { Name: 'TargetGroup', Value: 'targetgroup/shop-green/0123456789abcdef' },
    { Name: 'LoadBalancer', Value: 'app/shop/50dc6c495c0c9188' },
  ]);
  const errors = plan.strategy.analysis.metrics[0]!;
  assert.ok(errors.kind === 'cloudwatch');
  assert.deepEqual(metricQueries(errors, router, 'green').map((q) => [q.Id, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat]), [
    ['value', 'HTTPCode_Target_5XX_Count', 'Sum'],
    ['per', 'RequestCount', 'Sum'],
  ]);
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, s));
  const data = (value: number[], per: number[]) => [
    { Id: 'value', Timestamps: [t(2), t(1)], Values: value },
    { Id: 'per', Timestamps: [t(2), t(1)], Values: per },
  ];
  assert.equal(judgeMetricData(errors, data([5, 0], [100, 100])).verdict, 'fail');
  assert.equal(judgeMetricData(errors, data([5, 0], [100, 100])).value, 0.05);
  assert.equal(judgeMetricData(errors, data([0, 9], [100, 100])).verdict, 'pass');
  assert.equal(judgeMetricData(errors, []).verdict, 'inconclusive');
  // On ssh hosts a cloudwatch metric has no target group to measure: refused when the plan is read.
  assert.throws(() => resolvePlan(parseConfig(minimalSsh('                - { name: errors, cloudwatch: { metric: HTTPCode_Target_5XX_Count }, failIf: "> 0" }')), 'a', 'p'), /needs the aws platform with router\.alb/);
});

const minimalSsh = (metric: string) =>
  [
    'apps:',
    '  a:',
    '    environments:',
    '      p:',
    '        hosts: [{ name: h, address: 127.0.0.1, user: u, privateKeyPath: /k, hostKey: "SHA256:abc" }]',
    '        slots: { blue: { port: 1 }, green: { port: 2 }, start: "go {{version}}", stop: stop }',
    '        router: { nginx: { upstreamFile: /etc/x.conf } }',
    '        strategy:',
    '          canary:',
    '            steps: [{ weight: 10, pause: 5m }, { weight: 100 }]',
    '            analysis:',
    '              metrics:',
    metric,
  ].join('\n');

test('AWS polling starts at 50 ms and doubles up to the configured interval', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((n) => pollDelay(n, 5000)), [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.deepEqual([0, 1, 2, 3].map((n) => pollDelay(n, 200)), [50, 100, 200, 200]);
  assert.equal(pollDelay(1000, 5000), 5000);
  assert.equal(pollDelay(0, 20), 20, 'never longer than the interval');
});
