// Pure checks for health probes and smoke tests. No I/O.
import type { SmokeSpec } from '../../contract/failover';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** What is wrong with one smoke-test answer; undefined when it passes. */
export function smokeProblem(smoke: SmokeSpec, a: HttpAnswer): string | undefined {
  if (a.status !== smoke.expectStatus) return `HTTP ${a.status}, want ${smoke.expectStatus}`;
  if (smoke.versionHeader && smoke.version) {
    const got = a.headers[smoke.versionHeader.toLowerCase()];
    const value = Array.isArray(got) ? got.join(',') : got;
    if (value !== smoke.version) return `${smoke.versionHeader}: ${value ?? '(missing)'}, want ${smoke.version}`;
  }
  if (smoke.bodyContains && !a.body.includes(smoke.bodyContains)) return `the body lacks ${JSON.stringify(smoke.bodyContains)}`;
  if (a.ms > smoke.timeoutMs) return `answered in ${a.ms} ms, over ${smoke.timeoutMs} ms`;
  return undefined;
}

/** The smoke URL with its host replaced by an address the DNS server gave (the Host header keeps the name). */
export function targetFor(url: string, address: string): { url: URL; hostHeader: string } {
  const u = new URL(url);
  const hostHeader = u.host;
  const t = new URL(url);
  t.hostname = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return { url: t, hostHeader };
}

/** PagerDuty Events API v2 `trigger` (or `resolve`) event. */
export function pagerDutyEvent(routingKey: string, action: 'trigger' | 'resolve', dedupKey: string, summary: string, source: string) {
  return {
    routing_key: routingKey,
    event_action: action,
    dedup_key: dedupKey,
    ...(action === 'trigger' ? { payload: { summary: summary.slice(0, 1024), source, severity: 'critical', component: 'database', group: 'cutover-failover' } } : {}),
  };
}
