// Plans for the AWS path (aws platform + alb router), for workflow and integration tests.
import type { AwsPlan } from '../../contract/plan-kinds';
import type { StrategySpec } from '../../contract';

export interface AwsPlanOptions {
  app?: string;
  env?: string;
  listenerArn?: string;
  targetGroups?: { blue: string; green: string };
  url?: string;
  region?: string;
  deployTimeoutMs?: number;
  pollIntervalMs?: number;
  teardownDelayMs?: number;
  slackChannel?: string;
  strategy?: StrategySpec;
  health?: AwsPlan['health'];
}

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';

export function awsPlan(o: AwsPlanOptions = {}): AwsPlan {
  const app = o.app ?? 'shop';
  return {
    app,
    env: o.env ?? 'prod',
    platform: {
      kind: 'aws',
      region: o.region ?? 'us-east-1',
      application: app,
      deploymentGroups: { blue: `${app}-blue`, green: `${app}-green` },
      revision: `s3://releases/${app}/{{version}}.zip`,
      deployTimeoutMs: o.deployTimeoutMs ?? 10 * 60_000,
      pollIntervalMs: o.pollIntervalMs ?? 5000,
    },
    router: {
      kind: 'alb',
      listenerArn: o.listenerArn ?? `${ARN}:listener/app/${app}/0123456789abcdef/fedcba9876543210`,
      targetGroups: o.targetGroups ?? { blue: `${ARN}:targetgroup/${app}-blue/0123456789abcdef`, green: `${ARN}:targetgroup/${app}-green/fedcba9876543210` },
      url: o.url ?? 'http://127.0.0.1:9/',
    },
    strategy: o.strategy ?? { kind: 'blueGreen' },
    health: o.health ?? { path: '/health/deep', expectStatus: 200, timeoutMs: 5000, intervalMs: 30_000, attempts: 10 },
    verify: { requests: 5, versionHeader: 'X-App-Version' },
    teardownDelayMs: o.teardownDelayMs ?? 60 * 60 * 1000,
    ...(o.slackChannel ? { slackChannel: o.slackChannel } : {}),
  };
}
