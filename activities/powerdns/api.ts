// Pure builders for the PowerDNS HTTP API and for asking the DNS server itself with dig. No I/O.
import type { DnsSpec, PowerDnsSpec } from '../../contract/failover';

/** `<apiUrl>/api/v1/servers/<id>/zones/<zone>` */
export function zoneUrl(dns: PowerDnsSpec): string {
  return `${dns.apiUrl.replace(/\/+$/, '')}/api/v1/servers/${encodeURIComponent(dns.serverId)}/zones/${encodeURIComponent(dns.zone)}`;
}

/** CNAME targets are names: fully qualified with the trailing dot, as PowerDNS stores them. */
export function normalize(dns: Pick<DnsSpec, 'type'>, content: string): string {
  return dns.type === 'CNAME' && !content.endsWith('.') ? `${content}.` : content;
}

/** The body of `PATCH zones/<zone>` that replaces the record set with exactly this content. */
export function replaceRrsetBody(dns: PowerDnsSpec, content: readonly string[]) {
  return {
    rrsets: [
      {
        name: dns.name,
        type: dns.type,
        ttl: dns.ttlSeconds,
        changetype: 'REPLACE',
        records: content.map((c) => ({ content: normalize(dns, c), disabled: false })),
      },
    ],
  };
}

interface ZoneJson {
  rrsets?: { name: string; type: string; ttl?: number; records?: { content: string; disabled?: boolean }[] }[];
}

/** The record set's live content in a `GET zones/<zone>` answer (sorted), [] when it has none. */
export function rrsetContent(dns: PowerDnsSpec, zone: ZoneJson): { content: string[]; ttl: number | null } {
  const set = zone.rrsets?.find((r) => r.name.toLowerCase() === dns.name.toLowerCase() && r.type === dns.type);
  if (!set) return { content: [], ttl: null };
  return { content: (set.records ?? []).filter((r) => !r.disabled).map((r) => r.content).sort(), ttl: set.ttl ?? null };
}

/** `dig` arguments asking the authoritative server directly, short answers, no retries of its own. */
export function digArgs(dns: DnsSpec, name = dns.name, type: string = dns.type): string[] {
  return [`@${dns.nameserver.address}`, '-p', String(dns.nameserver.port), '+short', '+norecurse', '+time=2', '+tries=1', name, type];
}

/** `dig +short` output → its answers, sorted. A line starting with ";;" is dig's complaint, not an answer. */
export function parseDigShort(out: string): string[] {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const problem = lines.find((l) => l.startsWith(';;'));
  if (problem) throw new Error(`dig: ${problem.replace(/^;;\s*/, '')}`);
  return lines.sort();
}

export function sameAnswer(dns: Pick<DnsSpec, 'type'>, answer: readonly string[], want: readonly string[]): boolean {
  const a = [...answer].map((x) => normalize(dns, x).toLowerCase()).sort();
  const b = [...want].map((x) => normalize(dns, x).toLowerCase()).sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
