// The platform steps on AWS: a colour is a CodeDeploy deployment group whose instances are the
// colour's target group. New code reaches the idle colour through CodeDeploy (its hooks stop
// the old version, install, start and validate the new one); readiness is the target group's
// health. Nothing is stopped afterwards: the old group stays registered at weight 0, ready for
// a rollback, and CodeDeploy replaces what runs there on the next deploy.
import type { AwsPlan } from '../../../contract/plan-kinds';
import type { Color } from '../../../contract/spec';
import { awsOps, codeDeployOps } from '../activities';
import type { Journal } from '../journal';

export function prepareIdleColour(plan: AwsPlan, color: Color, journal: Journal): void {
  journal.step('preparing', `${color} is deployment group ${plan.platform.deploymentGroups[color]}; CodeDeploy's ApplicationStop hook stops what runs there`);
}

export async function deployNewVersion(plan: AwsPlan, color: Color, version: string, deployId: string, journal: Journal): Promise<void> {
  const group = plan.platform.deploymentGroups[color];
  journal.step('starting', `CodeDeploy: deploying ${version} to ${plan.platform.application}/${group} (${color})`);
  await codeDeployOps(plan.platform.deployTimeoutMs).codeDeploy.executeWithOptions({ summary: `CodeDeploy ${version} to ${group}` }, [
    { platform: plan.platform, color, version, description: `cutover ${deployId}: ${version} to ${color}` },
  ]);
}

export async function waitTargetsHealthy(plan: AwsPlan, color: Color, version: string, journal: Journal): Promise<void> {
  const h = plan.health;
  const timeoutMs = h.attempts * (h.intervalMs + h.timeoutMs);
  journal.step('health-check', `waiting until every target of the ${color} group (${version}) is healthy, up to ${timeoutMs} ms`);
  await awsOps.albWaitHealthy.executeWithOptions({ startToCloseTimeout: timeoutMs + 60_000, summary: `${color} target group healthy` }, [
    { region: plan.platform.region, router: plan.router, color, timeoutMs, pollIntervalMs: plan.platform.pollIntervalMs },
  ]);
}
