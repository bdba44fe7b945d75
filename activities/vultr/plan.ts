// Pure decisions for Vultr app servers: which of the wanted instances exist, which to create,
// and whether one is ready. No I/O.
import type { VultrAppServers } from '../../contract/failover';

/** The part of a Vultr v2 instance cutover reads. */
export interface VultrInstance {
  id: string;
  label: string;
  main_ip: string;
  status: string;
  power_status: string;
  server_status: string;
  tags?: string[];
  tag?: string;
}

/** `<label>-1` … `<label>-<count>`: the names that make a retried create find its own instances. */
export function wantedLabels(servers: VultrAppServers): string[] {
  return Array.from({ length: servers.count }, (_, i) => `${servers.label}-${i + 1}`);
}

export function hasTag(i: VultrInstance, tag: string): boolean {
  return (i.tags ?? []).includes(tag) || i.tag === tag;
}

/** The tagged instances to use (one per wanted label, oldest first) and the labels still to create. */
export function scalePlan(servers: VultrAppServers, existing: readonly VultrInstance[]): { reuse: VultrInstance[]; create: string[] } {
  const tagged = existing.filter((i) => hasTag(i, servers.tag));
  const reuse: VultrInstance[] = [];
  const create: string[] = [];
  for (const label of wantedLabels(servers)) {
    const found = tagged.find((i) => i.label === label && !reuse.includes(i));
    if (found) reuse.push(found);
    else create.push(label);
  }
  // Tagged instances with other labels count too (created by hand or an older config), up to count.
  for (const i of tagged) {
    if (create.length === 0) break;
    if (!reuse.includes(i)) {
      reuse.push(i);
      create.pop();
    }
  }
  return { reuse, create };
}

/** The body of `POST /instances` for one label. */
export function createBody(servers: VultrAppServers, label: string) {
  return { region: servers.region, plan: servers.plan, snapshot_id: servers.snapshotId, label, tags: [servers.tag], hostname: label };
}

export function isReady(i: VultrInstance): boolean {
  return i.status === 'active' && i.power_status === 'running' && i.main_ip !== '' && i.main_ip !== '0.0.0.0';
}

/** A Vultr DNS record (v2 shape). `name` is relative to the domain ('' for the apex). */
export interface VultrRecord {
  id: string;
  type: string;
  name: string;
  data: string;
  ttl: number;
  priority?: number;
}

/** `app.example.com.` in `example.com` → `app`; the apex → ''. */
export function relativeName(fqdn: string, domain: string): string {
  const name = fqdn.replace(/\.$/, '').toLowerCase();
  const d = domain.replace(/\.$/, '').toLowerCase();
  if (name === d) return '';
  if (!name.endsWith(`.${d}`)) throw new Error(`${fqdn} is not in the domain ${domain}`);
  return name.slice(0, -(d.length + 1));
}

/**
 * Make the record set hold exactly `content`, one record per value: keep what already holds a
 * wanted value (fixing its TTL), delete the rest, create what is missing. Applying it twice
 * changes nothing the second time.
 */
export function recordPlan(records: readonly VultrRecord[], name: string, type: string, content: readonly string[], ttl: number) {
  const same = (a: string, b: string) => a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
  const mine = records.filter((r) => r.type === type && r.name.toLowerCase() === name.toLowerCase());
  const keep: VultrRecord[] = [];
  for (const value of content) {
    const found = mine.find((r) => same(r.data, value) && !keep.includes(r));
    if (found) keep.push(found);
  }
  return {
    update: keep.filter((r) => r.ttl !== ttl).map((r) => r.id),
    remove: mine.filter((r) => !keep.includes(r)).map((r) => r.id),
    create: content.filter((v) => !keep.some((r) => same(r.data, v))),
  };
}
