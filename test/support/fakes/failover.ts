// The failover's systems modelled in memory for workflow tests: two databases (one primary,
// one standby with a lag), the old primary's SSH host, the DNS record, the standby's app
// servers, the primary's health and the pages sent. The fakes act on the model, so a retried
// or repeated step sees what the first one did.
import type { PostgresActivities } from '../../../activities/postgres';
import type { PowerDnsActivities } from '../../../activities/powerdns';
import type { PageInput, ProbeActivities } from '../../../activities/probe';
import type { SiteActivities } from '../../../activities/sites';
import type { VultrActivities } from '../../../activities/vultr';
import { createBody, scalePlan, type VultrInstance } from '../../../activities/vultr/plan';

export interface FakeDb {
  name: string;
  running: boolean;
  inRecovery: boolean;
  lsn: number;
  writes: number;
  /** A durable fence left standby.signal: started again, it is in recovery (read-only). */
  signal?: boolean;
}

export class FakeDr {
  readonly dbs = new Map<string, FakeDb>();
  /** The old primary's SSH host answers. */
  sshUp = true;
  /** Bytes the standby has not replayed, and for how long. */
  lagBytes = 0;
  lagSeconds = 0;
  /** Lag left after each further lag reading (a standby catching up): shifts one per reading. */
  readonly lagAfterReadings: number[] = [];
  promotions = 0;
  dns: string[] = [];
  /** The next N DNS changes fail with HTTP 503. */
  dnsFailures = 0;
  dnsCalls = 0;
  readonly appServers = new Set<string>();
  /** Vultr instances (every one ever created; none is deleted by a failover). */
  readonly vultr: VultrInstance[] = [];
  /** The next N creates make the instance but fail before answering (a response lost half-way). */
  vultrCreateFailures = 0;
  /** Health of the primary, per probe (shifted); `healthy` when the list is empty. */
  readonly probeScript: boolean[] = [];
  healthy = true;
  readonly pages: PageInput[] = [];
  readonly calls: string[] = [];
  /** Called at the start of each fake activity; a test may make one wait or fail. */
  before: (activity: string) => Promise<void> = async () => {};

  constructor(primary = 'fra', standby = 'ams') {
    this.dbs.set(primary, { name: primary, running: true, inRecovery: false, lsn: 1000, writes: 0 });
    this.dbs.set(standby, { name: standby, running: true, inRecovery: true, lsn: 1000, writes: 0 });
  }

  db(name: string): FakeDb {
    const d = this.dbs.get(name);
    if (!d) throw new Error(`no fake database ${name}`);
    return d;
  }
}

/** Databases are named by their `host` in the spec. */
export function fakeFailover(dr: FakeDr): PostgresActivities & PowerDnsActivities & ProbeActivities & SiteActivities & VultrActivities {
  const enter = async (name: string): Promise<void> => {
    dr.calls.push(name);
    await dr.before(name);
  };
  return {
    async pgFence({ fence, database }) {
      await enter('pgFence');
      const db = dr.db(database.host);
      if (!dr.sshUp) return { reachable: false, refusesWrites: !db.running, lastPrimaryLsn: null, detail: `${database.host}: ssh unreachable` };
      const wasUp = !db.running ? ('down' as const) : db.signal ? ('read-only' as const) : ('writable' as const);
      const lsn = wasUp === 'writable' ? `0/${db.lsn.toString(16)}` : null;
      db.running = false;
      if (fence.dataDir) db.signal = true;
      return { reachable: true, refusesWrites: true, lastPrimaryLsn: lsn, wasUp, durable: fence.dataDir !== undefined, detail: `${database.host} stopped` };
    },
    async pgUnfence({ database }) {
      await enter('pgUnfence');
      const db = dr.db(database.host);
      db.signal = false;
      db.running = true;
    },
    async pgReseed({ database }) {
      await enter('pgReseed');
      const db = dr.db(database.host);
      if (db.running && db.inRecovery) return { reseeded: false, detail: 'already a standby' };
      if (db.running) throw new Error('answers as a primary');
      db.running = true;
      db.inRecovery = true;
      return { reseeded: true, detail: 're-seeded' };
    },
    async pgLag({ standby }) {
      await enter('pgLag');
      const db = dr.db(standby.host);
      const bytes = dr.lagBytes;
      const seconds = dr.lagSeconds;
      if (dr.lagAfterReadings.length > 0) {
        dr.lagBytes = dr.lagAfterReadings.shift()!;
        if (dr.lagBytes === 0) dr.lagSeconds = 0;
      }
      const replay = `0/${db.lsn.toString(16)}`;
      return {
        against: { lsn: `0/${(db.lsn + bytes).toString(16)}`, source: 'last-known' as const },
        bytes,
        seconds,
        status: { inRecovery: db.inRecovery, receiveLsn: replay, replayLsn: replay, replayTimestamp: 0 },
        measuredAt: Date.now(),
      };
    },
    async pgPromote({ standby }) {
      await enter('pgPromote');
      const db = dr.db(standby.host);
      const promoted = db.inRecovery;
      if (promoted) dr.promotions++;
      db.inRecovery = false;
      db.writes++;
      return { promoted, writeCheckId: String(db.writes), ms: 5 };
    },
    async dnsRead() {
      await enter('dnsRead');
      return { content: [...dr.dns], ttl: 60 };
    },
    async dnsRepoint({ content }) {
      await enter('dnsRepoint');
      dr.dnsCalls++;
      if (dr.dnsFailures > 0) {
        dr.dnsFailures--;
        throw new Error('PowerDNS PATCH: HTTP 503: unavailable');
      }
      const previous = [...dr.dns];
      dr.dns = [...content].sort();
      return { answer: [...dr.dns], previous, ms: 3 };
    },
    async vultrDnsRepoint({ content }) {
      await enter('vultrDnsRepoint');
      dr.dnsCalls++;
      const previous = [...dr.dns];
      dr.dns = [...content].sort();
      return { answer: [...dr.dns], previous, ms: 3 };
    },
    async httpProbe(probe) {
      await enter('httpProbe');
      const ok = dr.probeScript.length > 0 ? dr.probeScript.shift()! : dr.healthy;
      return { ok, status: ok ? probe.expectStatus : null, ms: 10, detail: ok ? 'HTTP 200' : 'connection refused' };
    },
    async smokeTest() {
      await enter('smokeTest');
      if (dr.appServers.size === 0) throw new Error('smoke: no app server answers');
      return { resolved: [...dr.dns], requests: 10, errors: 0, errorRate: 0, ms: 20 };
    },
    async pageIncident(input) {
      await enter('pageIncident');
      dr.pages.push(input);
    },
    async appServersStart({ servers }) {
      await enter('appServersStart');
      for (const h of servers.hosts) dr.appServers.add(h.name);
      return { hosts: servers.hosts.map((h) => ({ name: h.name, healthyAfterMs: 10 })) };
    },
    async vultrScale({ servers }) {
      await enter('vultrScale');
      const plan = scalePlan(servers, dr.vultr);
      for (const label of plan.create) {
        const body = createBody(servers, label);
        const i: VultrInstance = { id: `v-${dr.vultr.length + 1}`, label: body.label, main_ip: `192.0.2.${dr.vultr.length + 1}`, status: 'active', power_status: 'running', server_status: 'ok', tags: body.tags };
        dr.vultr.push(i);
        dr.appServers.add(label);
        if (dr.vultrCreateFailures > 0) {
          dr.vultrCreateFailures--;
          throw new Error(`create instance ${label}: Internal Server Error`);
        }
      }
      const mine = scalePlan(servers, dr.vultr).reuse;
      return { instances: mine.map((i) => ({ id: i.id, label: i.label, mainIp: i.main_ip, healthyAfterMs: 10 })), created: plan.create.length, reused: plan.reuse.length };
    },
    async appServersStop({ servers }) {
      await enter('appServersStop');
      for (const h of servers.hosts) dr.appServers.delete(h.name);
    },
  };
}

