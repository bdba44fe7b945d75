// moto_server (pinned moto[server] from PyPI) on loopback: a real ELBv2 API that stores
// listeners, weights, target groups and health-check settings. Seeding helpers build the load
// balancer of the AWS tests: default VPC subnets, two IP target groups, a forward listener.
import { join } from 'node:path';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { temporalBinary } from '../../../sandbox/devserver';
import { freePort, spawnDaemon, waitForTcp, type Daemon } from '../../../sandbox/procs';
import type { Color } from '../../../contract';

export interface Moto {
  url: string;
  stop(): Promise<void>;
  reset(): Promise<void>;
}

/** The Python scripts dir holds moto_server next to temporal (pip wheels). */
const motoBinary = (): string => join(temporalBinary('temporal').replace(/\/temporal$/, ''), 'moto_server');

export async function startMoto(dir: string): Promise<Moto> {
  const port = await freePort();
  const daemon: Daemon = spawnDaemon(motoBinary(), ['-H', '127.0.0.1', '-p', String(port)], join(dir, 'moto.log'));
  const url = `http://127.0.0.1:${port}`;
  await waitForTcp('moto_server', '127.0.0.1', port, 30_000, () => (daemon.isRunning() ? undefined : 'exited'));
  return {
    url,
    stop: () => daemon.stop(3000),
    reset: async () => void (await fetch(`${url}/moto-api/reset`, { method: 'POST' })),
  };
}

export const TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };

export function elbv2(url: string): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
}

export interface SeededAlb {
  loadBalancerArn: string;
  listenerArn: string;
  targetGroups: Record<Color, string>;
}

/** The default VPC's subnets, through moto's EC2 query API (no EC2 client needed for two reads). */
async function defaultSubnets(url: string): Promise<{ vpc: string; subnets: string[] }> {
  const res = await fetch(`${url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0' },
    body: 'Action=DescribeSubnets&Version=2016-11-15',
  });
  const text = await res.text();
  const subnets = [...text.matchAll(/<subnetId>([^<]+)</g)].map((m) => m[1]!);
  const vpc = /<vpcId>([^<]+)</.exec(text)?.[1];
  if (!vpc || subnets.length < 2) throw new Error(`moto: no default VPC subnets: ${text.slice(0, 300)}`);
  return { vpc, subnets };
}

/**
 * An ALB with a blue and a green IP target group (health check on /health/deep: 30 s interval,
 * 5 s timeout, healthy after 2, unhealthy after 3, as the users run it), each colour's
 * instances registered, and a listener sending everything to blue.
 */
export async function seedAlb(url: string, app: string, instances: Record<Color, { address: string; port: number }[]>): Promise<SeededAlb> {
  const c = elbv2(url);
  const { vpc, subnets } = await defaultSubnets(url);
  const lb = await c.send(new CreateLoadBalancerCommand({ Name: app, Subnets: subnets.slice(0, 2), Type: 'application' }));
  const loadBalancerArn = lb.LoadBalancers![0]!.LoadBalancerArn!;
  const groups = {} as Record<Color, string>;
  for (const color of ['blue', 'green'] as const) {
    const tg = await c.send(
      new CreateTargetGroupCommand({
        Name: `${app}-${color}`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpc,
        TargetType: 'ip',
        HealthCheckPath: '/health/deep',
        HealthCheckIntervalSeconds: 30,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
      }),
    );
    groups[color] = tg.TargetGroups![0]!.TargetGroupArn!;
    await c.send(new RegisterTargetsCommand({ TargetGroupArn: groups[color], Targets: instances[color].map((i) => ({ Id: i.address, Port: i.port })) }));
  }
  const l = await c.send(
    new CreateListenerCommand({
      LoadBalancerArn: loadBalancerArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: groups.blue, Weight: 100 }, { TargetGroupArn: groups.green, Weight: 0 }] } }],
    }),
  );
  return { loadBalancerArn, listenerArn: l.Listeners![0]!.ListenerArn!, targetGroups: groups };
}
