// The README's AWS example is a whole cutover.yml: it must parse with the real config schema
// and mean what the README says (staging blue-green; prod a CloudWatch-judged canary 10 → 50
// → 100 on the ALB listener, approved before any traffic moves).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig, resolvePlan } from '../../config/load';
import { isAwsPlan } from '../../contract/plan-kinds';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The first yaml block of the README's AWS section. */
function awsExample(): string {
  const section = README.slice(README.indexOf('## AWS: Application Load Balancer and CodeDeploy'));
  assert.ok(section.length < README.length, 'the README has an AWS section');
  const m = /```yaml\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf('\n## ', 10)));
  assert.ok(m, 'the AWS section has a yaml example');
  return m[1]!;
}

test("the README's AWS example is a valid cutover.yml with the environments it describes", () => {
  const config = parseConfig(awsExample(), 'README.md (AWS example)');
  const staging = resolvePlan(config, 'shop', 'staging');
  assert.ok(isAwsPlan(staging));
  assert.equal(staging.strategy.kind, 'blueGreen');
  assert.equal(staging.approval, undefined);

  const prod = resolvePlan(config, 'shop', 'prod');
  assert.ok(isAwsPlan(prod));
  assert.equal(prod.platform.region, 'eu-west-1');
  assert.deepEqual(prod.platform.deploymentGroups, { blue: 'shop-blue', green: 'shop-green' });
  assert.equal(prod.platform.revision, 's3://releases/shop/{{version}}.zip');
  assert.equal(prod.platform.deployTimeoutMs, 10 * 60_000);
  assert.equal(prod.platform.pollIntervalMs, 5000);
  assert.match(prod.router.listenerArn, /^arn:aws:elasticloadbalancing:eu-west-1:\d{12}:listener\//);
  assert.ok(prod.strategy.kind === 'canary');
  assert.deepEqual(prod.strategy.steps.map((s) => s.weight), [10, 50, 100]);
  assert.deepEqual(
    prod.strategy.analysis.metrics.map((m) => (m.kind === 'cloudwatch' ? [m.name, m.metricName, m.stat, m.per ?? null, m.periodSeconds] : [m.kind])),
    [
      ['errors', 'HTTPCode_Target_5XX_Count', 'Sum', 'RequestCount', 60],
      ['latency', 'TargetResponseTime', 'p99', null, 60],
    ],
  );
  assert.deepEqual(prod.approval, { required: 1, approvers: ['alice', 'bob'], allowSelfApproval: false, timeoutMs: 4 * 3600_000, before: 'switch' });
  assert.equal(prod.slackChannel, '#deploys');
});
