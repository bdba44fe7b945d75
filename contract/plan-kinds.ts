// The two shapes a plan comes in: ssh hosts behind nginx, or CodeDeploy groups behind an ALB.
// Steps narrow a plan with these guards and dispatch on them.
import type { AlbRouter, AwsPlatform } from './aws';
import type { NginxRouter, Plan, SshPlatform } from './spec';

export type SshPlan = Plan & { platform: SshPlatform; router: NginxRouter };
export type AwsPlan = Plan & { platform: AwsPlatform; router: AlbRouter };

export const isSshPlan = (plan: Plan): plan is SshPlan => plan.platform.kind === 'ssh' && plan.router.kind === 'nginx';
export const isAwsPlan = (plan: Plan): plan is AwsPlan => plan.platform.kind === 'aws' && plan.router.kind === 'alb';

/** A CloudWatch metric measures a target group: only an aws plan has one. */
export function metricProblem(plan: Pick<Plan, 'platform' | 'strategy'>): string | undefined {
  if (plan.strategy.kind !== 'canary' || plan.platform.kind === 'aws') return undefined;
  const cw = plan.strategy.analysis.metrics.find((m) => m.kind === 'cloudwatch');
  return cw ? `metric ${cw.name} is a cloudwatch metric, which measures an ALB target group; it needs the aws platform with router.alb` : undefined;
}

/** The platform/router pairs cutover knows; anything else is refused when the plan is read. */
export function pairProblem(plan: Pick<Plan, 'platform' | 'router'>): string | undefined {
  const pair = `${plan.platform.kind}+${plan.router.kind}`;
  return pair === 'ssh+nginx' || pair === 'aws+alb' ? undefined : `platform ${plan.platform.kind} cannot be used with router ${plan.router.kind}; use ssh hosts with nginx, or aws with alb`;
}
