// DNS through PowerDNS's HTTP API: read a record set, replace it, and check through the DNS
// server itself (dig) that the answer changed. Replacing with the same content is a no-op, so
// the step is safe to retry. The API key comes from the worker's environment.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DnsSpec, PowerDnsSpec } from '../../contract/failover';
import { digArgs, parseDigShort, replaceRrsetBody, rrsetContent, sameAnswer, zoneUrl } from './api';

const exec = promisify(execFile);

export interface DnsReadResult {
  content: string[];
  ttl: number | null;
}
export interface DnsRepointInput {
  dns: PowerDnsSpec;
  content: string[];
}
export interface DnsRepointResult {
  /** What the DNS server answered once it matched. */
  answer: string[];
  previous: string[];
  ms: number;
}

/** Ask the authoritative server (not a resolver, not a cache). */
export async function dig(dns: DnsSpec, name = dns.name, type: string = dns.type): Promise<string[]> {
  const { stdout } = await exec('dig', digArgs(dns, name, type), { timeout: 10_000 });
  return parseDigShort(stdout);
}

/** Ask the DNS server until it answers `content` (about 20 s), heartbeating; the answer. */
export async function waitForAnswer(dns: DnsSpec, content: readonly string[], ctx: Context): Promise<string[]> {
  let last: string[] | string = [];
  for (let i = 0; i < 100; i++) {
    ctx.heartbeat({ attempt: i });
    try {
      last = await dig(dns);
      if (sameAnswer(dns, last, content)) return last;
    } catch (err) {
      last = (err as Error).message;
    }
    await ctx.sleep(200);
  }
  throw new Error(`${dns.nameserver.address}:${dns.nameserver.port} still answers ${JSON.stringify(last)} for ${dns.name} ${dns.type}, want ${JSON.stringify(content)}`);
}

export function createPowerDnsActivities(env: NodeJS.ProcessEnv = process.env) {
  async function api(dns: PowerDnsSpec, method: 'GET' | 'PATCH', body?: unknown): Promise<unknown> {
    const key = env[dns.apiKeyEnv];
    if (!key) throw ApplicationFailure.nonRetryable(`the worker's environment has no ${dns.apiKeyEnv} (the PowerDNS API key)`, 'DnsConfig');
    const res = await fetch(zoneUrl(dns), {
      method,
      headers: { 'X-API-Key': key, 'Content-Type': 'application/json', Accept: 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let why = text.slice(0, 300);
      try {
        why = (JSON.parse(text) as { error?: string }).error ?? why;
      } catch {
        /* not JSON */
      }
      const message = `PowerDNS ${method} ${zoneUrl(dns)}: HTTP ${res.status}: ${why}`;
      // 4xx other than 404/409/429 will fail the same way again (bad key, bad record).
      if (res.status >= 400 && res.status < 500 && ![404, 408, 409, 429].includes(res.status)) throw ApplicationFailure.nonRetryable(message, 'DnsRejected');
      throw new Error(message);
    }
    return text ? JSON.parse(text) : undefined;
  }

  return {
    async dnsRead(input: { dns: PowerDnsSpec }): Promise<DnsReadResult> {
      return rrsetContent(input.dns, (await api(input.dns, 'GET')) as Parameters<typeof rrsetContent>[1]);
    },

    /** Replace the record set and wait until the DNS server answers with the new content. */
    async dnsRepoint(input: DnsRepointInput): Promise<DnsRepointResult> {
      const { dns, content } = input;
      const ctx = Context.current();
      const started = Date.now();
      const previous = rrsetContent(dns, (await api(dns, 'GET')) as Parameters<typeof rrsetContent>[1]).content;
      if (!sameAnswer(dns, previous, content)) await api(dns, 'PATCH', replaceRrsetBody(dns, content));
      return { answer: await waitForAnswer(dns, content, ctx), previous, ms: Date.now() - started };
    },
  };
}

export type PowerDnsActivities = ReturnType<typeof createPowerDnsActivities>;
