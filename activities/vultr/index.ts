// The standby's app servers on Vultr: reuse the instances carrying the tag, create the missing
// ones from the snapshot, wait until each is active and answers its health URL. A retried step
// (a create that failed half-way, a worker that died) finds what the first try created by its
// tag and label, so it never creates a server twice.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { VultrAppServers, VultrDnsSpec } from '../../contract/failover';
import { waitForAnswer } from '../powerdns';
import type { DnsRepointResult } from '../powerdns';
import { httpGet } from '../probe';
import { renderPath } from '../shell';
import { createVultrClient, type VultrClient } from './client';
import { createBody, isReady, recordPlan, relativeName, scalePlan, type VultrInstance } from './plan';

export interface VultrScaleResult {
  instances: { id: string; label: string; mainIp: string; healthyAfterMs: number }[];
  created: number;
  reused: number;
}

export function createVultrActivities(env: NodeJS.ProcessEnv = process.env, clientFor: (key: string, baseUrl?: string) => VultrClient = createVultrClient) {
  return {
    /** Vultr DNS: make the record set hold exactly `content` (safe to repeat), then ask the nameserver until it answers so. */
    async vultrDnsRepoint(input: { dns: VultrDnsSpec; content: string[] }): Promise<DnsRepointResult> {
      const { dns, content } = input;
      const key = env[dns.apiKeyEnv];
      if (!key) throw ApplicationFailure.nonRetryable(`the worker's environment has no ${dns.apiKeyEnv} (the Vultr API key)`, 'VultrConfig');
      const api = clientFor(key, dns.apiUrl);
      const started = Date.now();
      const name = relativeName(dns.name, dns.domain);
      const records = await api.listRecords(dns.domain);
      const previous = records.filter((r) => r.type === dns.type && r.name.toLowerCase() === name).map((r) => r.data).sort();
      const plan = recordPlan(records, name, dns.type, content, dns.ttlSeconds);
      for (const data of plan.create) await api.createRecord(dns.domain, { name, type: dns.type, data, ttl: dns.ttlSeconds });
      for (const id of plan.update) await api.updateRecord(dns.domain, id, { ttl: dns.ttlSeconds });
      for (const id of plan.remove) await api.deleteRecord(dns.domain, id);
      return { answer: await waitForAnswer(dns, content, Context.current()), previous, ms: Date.now() - started };
    },

    async vultrScale(input: { servers: VultrAppServers; healthTimeoutMs: number }): Promise<VultrScaleResult> {
      const { servers } = input;
      const key = env[servers.apiKeyEnv];
      if (!key) throw ApplicationFailure.nonRetryable(`the worker's environment has no ${servers.apiKeyEnv} (the Vultr API key)`, 'VultrConfig');
      const api = clientFor(key, servers.apiUrl);
      const ctx = Context.current();
      const started = Date.now();
      const plan = scalePlan(servers, await api.listInstances(servers.tag));
      const created: VultrInstance[] = [];
      for (const label of plan.create) {
        ctx.heartbeat({ creating: label });
        created.push(await api.createInstance(createBody(servers, label)));
      }
      const instances = await Promise.all(
        [...plan.reuse, ...created].map(async (first) => {
          let i = first;
          while (!isReady(i)) {
            if (Date.now() - started > input.healthTimeoutMs) throw new Error(`${i.label} (${i.id}) not active within ${input.healthTimeoutMs} ms: ${i.status}/${i.power_status}`);
            ctx.heartbeat({ waiting: i.label });
            await ctx.sleep(500);
            i = await api.getInstance(i.id);
          }
          const url = new URL(renderPath(servers.healthUrl, { address: i.main_ip, host: i.label }));
          let last = 'no answer';
          for (;;) {
            ctx.heartbeat({ health: i.label });
            try {
              const a = await httpGet(url, 2000);
              if (a.status === 200) return { id: i.id, label: i.label, mainIp: i.main_ip, healthyAfterMs: Date.now() - started };
              last = `HTTP ${a.status}`;
            } catch (err) {
              last = (err as Error).message;
            }
            if (Date.now() - started > input.healthTimeoutMs) throw new Error(`${i.label}: ${url.href} not healthy within ${input.healthTimeoutMs} ms: ${last}`);
            await ctx.sleep(300);
          }
        }),
      );
      return { instances: instances.sort((a, b) => a.label.localeCompare(b.label)), created: created.length, reused: plan.reuse.length };
    },
  };
}

export type VultrActivities = ReturnType<typeof createVultrActivities>;
