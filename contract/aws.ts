// The AWS seams of the environment spec: platform `aws` (new code reaches a colour through
// CodeDeploy) and router `alb` (an Application Load Balancer listener forwarding to one target
// group per colour). Nothing secret here: credentials come from the worker's default chain.
import { z } from 'zod';

const ARN_RE = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+$/;
export const arnSchema = (what: string) =>
  z.string().regex(ARN_RE, { message: `must be the ARN of the ${what}, like arn:aws:elasticloadbalancing:eu-west-1:123456789012:...` });

export const awsRegionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'must be an AWS region like eu-west-1' });

/**
 * One CodeDeploy deployment group per colour: an in-place deployment into the group whose
 * instances are the colour's target group. CodeDeploy's own EC2 blue/green replaces instances
 * (copies an Auto Scaling group); fixed servers per colour are the in-place case twice.
 */
export const awsPlatformSchema = z.strictObject({
  kind: z.literal('aws'),
  region: awsRegionSchema,
  application: z.string().min(1).max(100),
  deploymentGroups: z.strictObject({ blue: z.string().min(1).max(100), green: z.string().min(1).max(100) }),
  /** Where CodeDeploy finds a version's bundle; `{{version}}` is filled: `s3://bucket/shop/{{version}}.zip`. */
  revision: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/\S+\.(zip|tar|tgz|tar\.gz)$/, {
    message: 'must be an S3 location of a zip/tar/tgz bundle, like s3://bucket/shop/{{version}}.zip',
  }),
  /** How long a CodeDeploy deployment may take before cutover stops it (with auto-rollback). */
  deployTimeoutMs: z.number().int().positive(),
  /** How often cutover asks CodeDeploy and the target groups how they are doing. */
  pollIntervalMs: z.number().int().positive(),
});
export type AwsPlatform = z.infer<typeof awsPlatformSchema>;

export const albRouterSchema = z.strictObject({
  kind: z.literal('alb'),
  listenerArn: arnSchema('listener'),
  targetGroups: z.strictObject({ blue: arnSchema('blue target group'), green: arnSchema('green target group') }),
  /** The load balancer's URL as the worker reaches it, used to verify what it serves. */
  url: z.string().regex(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL, e.g. https://shop.example.com/' }),
});
export type AlbRouter = z.infer<typeof albRouterSchema>;

/**
 * A CloudWatch metric of the canary's target group (namespace AWS/ApplicationELB), e.g.
 * HTTPCode_Target_5XX_Count per RequestCount, or TargetResponseTime p99. Dimensions are filled
 * by cutover: TargetGroup (the canary colour's group) and LoadBalancer (the listener's).
 */
export const CLOUDWATCH_STATS = ['Sum', 'Average', 'Maximum', 'Minimum', 'SampleCount', 'p50', 'p90', 'p95', 'p99'] as const;
export const cloudwatchMetricSchema = z.strictObject({
  kind: z.literal('cloudwatch'),
  name: z.string().min(1).max(100),
  metricName: z.string().min(1).max(255),
  stat: z.enum(CLOUDWATCH_STATS),
  /** Divide by this metric of the same group (Sum), e.g. RequestCount for an error ratio; no requests is no data. */
  per: z.string().min(1).max(255).optional(),
  periodSeconds: z.number().int().min(1),
  failIf: z.strictObject({ op: z.enum(['>', '>=', '<', '<=', '==', '!=']), value: z.number() }),
});
export type CloudWatchMetric = z.infer<typeof cloudwatchMetricSchema>;
