// A site's app servers over SSH: start them with the configured command and check each answers
// its health URL from the worker; stop them (the undo). Starting what already runs is the
// operator's command's business: it must be idempotent, as slot starts are.
import { Context } from '@temporalio/activity';
import type { SshAppServers } from '../../contract/failover';
import { hostVars, renderPath, renderTemplate } from '../shell';
import { run, type Ssh } from '../ssh/client';
import { onHost } from '../ssh/on-host';
import { httpGet } from '../probe';

export interface AppServersResult {
  hosts: { name: string; healthyAfterMs: number }[];
}

export function createSiteActivities(ssh: Ssh) {
  return {
    async appServersStart(input: { servers: SshAppServers; healthTimeoutMs: number }): Promise<AppServersResult> {
      const { servers } = input;
      const ctx = Context.current();
      const hosts: AppServersResult['hosts'] = [];
      await Promise.all(
        servers.hosts.map(async (host) => {
          const started = Date.now();
          const command = renderTemplate(servers.start, hostVars(host));
          await onHost(() => ssh.withSession(host, (s) => run(s, host, command, { timeoutMs: 120_000 })));
          const url = new URL(renderPath(servers.healthUrl, hostVars(host)));
          let last = 'no answer';
          while (Date.now() - started < input.healthTimeoutMs) {
            ctx.heartbeat({ host: host.name });
            try {
              const a = await httpGet(url, 2000);
              if (a.status === 200) {
                hosts.push({ name: host.name, healthyAfterMs: Date.now() - started });
                return;
              }
              last = `HTTP ${a.status}`;
            } catch (err) {
              last = (err as Error).message;
            }
            await ctx.sleep(200);
          }
          throw new Error(`${host.name}: ${url.href} not healthy within ${input.healthTimeoutMs} ms: ${last}`);
        }),
      );
      return { hosts: hosts.sort((a, b) => a.name.localeCompare(b.name)) };
    },

    async appServersStop(input: { servers: SshAppServers }): Promise<void> {
      const { servers } = input;
      await Promise.all(
        servers.hosts.map((host) => onHost(() => ssh.withSession(host, (s) => run(s, host, renderTemplate(servers.stop, hostVars(host)), { timeoutMs: 120_000 })))),
      );
    },
  };
}

export type SiteActivities = ReturnType<typeof createSiteActivities>;
