// HTTP from the worker: the monitor's health probe, the failover's smoke tests through the DNS
// name (resolved by the DNS server itself), and the incident page (PagerDuty Events v2 shape).
import http from 'node:http';
import https from 'node:https';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DnsSpec, ProbeSpec, SmokeSpec } from '../../contract/failover';
import { dig } from '../powerdns';
import { pagerDutyEvent, smokeProblem, targetFor, type HttpAnswer } from './judge';

/** Requests in flight per address while the error rate is watched: the smoke test is a small load. */
const WATCH_CONCURRENCY = 8;

export interface ProbeResult {
  ok: boolean;
  status: number | null;
  ms: number;
  detail: string;
}
export interface SmokeResult {
  resolved: string[];
  requests: number;
  errors: number;
  errorRate: number;
  ms: number;
}
export interface PageInput {
  pagerDuty: { url: string; routingKeyEnv: string };
  action: 'trigger' | 'resolve';
  dedupKey: string;
  summary: string;
  source: string;
}

/** One GET; `hostHeader` keeps the DNS name when the URL holds the address. */
export function httpGet(url: URL, timeoutMs: number, hostHeader?: string): Promise<HttpAnswer> {
  const started = Date.now();
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: 'GET', timeout: timeoutMs, agent: false, headers: hostHeader ? { Host: hostHeader } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, 100_000), ms: Date.now() - started }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function createProbeActivities(env: NodeJS.ProcessEnv = process.env) {
  return {
    /** One health probe of the primary; never throws (a failure is an answer). */
    async httpProbe(probe: ProbeSpec): Promise<ProbeResult> {
      const started = Date.now();
      try {
        const a = await httpGet(new URL(probe.url), probe.timeoutMs);
        const ok = a.status === probe.expectStatus;
        return { ok, status: a.status, ms: a.ms, detail: ok ? `HTTP ${a.status} in ${a.ms} ms` : `HTTP ${a.status}, want ${probe.expectStatus}` };
      } catch (err) {
        return { ok: false, status: null, ms: Date.now() - started, detail: (err as Error).message };
      }
    },

    /**
     * Resolve the smoke URL's host through the DNS server, send `requests` requests to every
     * address it gives (all must pass), then keep 8 requests in flight per address for
     * `watchMs` and fail above the error rate. Retried by the workflow: app servers may still be warming up.
     */
    async smokeTest(input: { smoke: SmokeSpec; dns: DnsSpec }): Promise<SmokeResult> {
      const { smoke, dns } = input;
      const ctx = Context.current();
      const started = Date.now();
      const host = new URL(smoke.url).hostname;
      const name = host.endsWith('.') ? host : `${host}.`;
      const resolved = /^[\d.]+$|:/.test(host) ? [host] : await dig(dns, name, dns.type === 'AAAA' ? 'AAAA' : 'A');
      const addresses = resolved.filter((r) => /^[\d.]+$|:/.test(r));
      if (addresses.length === 0) throw new Error(`${dns.nameserver.address}:${dns.nameserver.port} gives no address for ${name} (answer ${JSON.stringify(resolved)})`);
      let requests = 0;
      let errors = 0;
      const one = async (address: string): Promise<string | undefined> => {
        const t = targetFor(smoke.url, address);
        requests++;
        try {
          const problem = smokeProblem(smoke, await httpGet(t.url, smoke.timeoutMs, t.hostHeader));
          if (problem) errors++;
          return problem && `${address}: ${problem}`;
        } catch (err) {
          errors++;
          return `${address}: ${(err as Error).message}`;
        }
      };
      for (let i = 0; i < smoke.requests; i++) {
        ctx.heartbeat({ phase: 'requests', i });
        for (const a of addresses) {
          const problem = await one(a);
          if (problem) throw new Error(`smoke test ${smoke.url} (${name} → ${addresses.join(', ')}): ${problem}`);
        }
      }
      const watchUntil = Date.now() + smoke.watchMs;
      while (Date.now() < watchUntil) {
        ctx.heartbeat({ phase: 'watch', requests, errors });
        await Promise.all(addresses.flatMap((a) => Array.from({ length: WATCH_CONCURRENCY }, () => one(a))));
        await ctx.sleep(50);
      }
      const errorRate = requests === 0 ? 0 : errors / requests;
      if (errorRate > smoke.maxErrorRate) {
        throw ApplicationFailure.retryable(`smoke test ${smoke.url}: ${errors} of ${requests} requests failed (${(errorRate * 100).toFixed(1)}%, limit ${(smoke.maxErrorRate * 100).toFixed(1)}%)`, 'SmokeFailed');
      }
      return { resolved: addresses, requests, errors, errorRate, ms: Date.now() - started };
    },

    /** Page on-call: a PagerDuty Events v2 event to the configured URL; the routing key from the worker's environment. */
    async pageIncident(input: PageInput): Promise<void> {
      const key = env[input.pagerDuty.routingKeyEnv];
      if (!key) throw ApplicationFailure.nonRetryable(`the worker's environment has no ${input.pagerDuty.routingKeyEnv} (the PagerDuty routing key)`, 'PageConfig');
      const res = await fetch(input.pagerDuty.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(pagerDutyEvent(key, input.action, input.dedupKey, input.summary, input.source)),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`page ${input.pagerDuty.url}: HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    },
  };
}

export type ProbeActivities = ReturnType<typeof createProbeActivities>;
