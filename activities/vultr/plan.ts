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
