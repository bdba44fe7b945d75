// Plans and requests for tests that do not touch real hosts.
import type { DeployRequest, Plan, RollbackRequest, StrategySpec, Trigger } from '../../contract';
import { childWorkflowIds } from '../../contract';
import type { SshPlan } from '../../contract/plan-kinds';

export function fakePlan(hosts: string[], opts: { app?: string; env?: string; teardownDelayMs?: number; slackChannel?: string; strategy?: StrategySpec } = {}): SshPlan {
  return {
    app: opts.app ?? 'shop',
    env: opts.env ?? 'prod',
    platform: {
      kind: 'ssh',
      hosts: hosts.map((name, i) => ({
      name,
      address: `10.0.0.${i + 1}`,
      port: 22,
      user: 'deploy',
      privateKeyPath: '~/.ssh/id_ed25519',
      hostKey: 'SHA256:AAAA',
    })),
      slots: { address: '127.0.0.1', blue: { port: 3005 }, green: { port: 3006 }, start: 'slot start {{color}} {{port}} {{version}}', stop: 'slot stop {{color}}', installed: 'slot installed {{version}}' },
    },
    strategy: opts.strategy ?? { kind: 'blueGreen' },
    router: { kind: 'nginx', upstreamFile: '/etc/nginx/conf.d/shop.conf', upstreamName: 'shop', test: 'nginx -t', reload: 'nginx -s reload', url: 'http://127.0.0.1/' },
    health: { path: '/health', expectStatus: 200, timeoutMs: 500, intervalMs: 1000, attempts: 10 },
    verify: { requests: 5, versionHeader: 'X-App-Version' },
    teardownDelayMs: opts.teardownDelayMs ?? 60 * 60 * 1000,
    ...(opts.slackChannel ? { slackChannel: opts.slackChannel } : {}),
  };
}

export const ciTrigger = (key: string): Trigger => ({ source: 'gitlab', by: 'alice', key });

export function deployRequest(plan: Plan, version: string, key = `gitlab-${version}`): DeployRequest {
  return { deployId: childWorkflowIds.deploy(plan.app, plan.env, key), version, plan, trigger: ciTrigger(key) };
}

export function rollbackRequest(plan: Plan, key: string): RollbackRequest {
  return { rollbackId: childWorkflowIds.rollback(plan.app, plan.env, key), plan, trigger: ciTrigger(key) };
}
