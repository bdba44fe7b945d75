// A Vultr API v2 stand-in (no emulator exists): instances with the documented shapes
// (`{instance}`, `{instances, meta: {total, links: {next, prev}}}` with cursor paging, errors as
// `{error}`), Bearer-key auth, and a real app behind every instance: once an instance turns
// active, the sandbox app (sandbox/app/server.js) runs on its main IP, a loopback address, so
// health checks and smoke tests reach real processes. `failNextCreate()` makes the next create
// store the instance and then answer 500, as a response lost half-way would. With `dns`, it
// also keeps DNS records of its domains (`/v2/domains/{domain}/records`) and serves them
// through a real PowerDNS (standing in for Vultr's nameservers), so `dig` sees every change.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import type { VultrInstance, VultrRecord } from '../../activities/vultr/plan';
import { freePort } from '../../sandbox/procs';

const APP = resolve(__dirname, '../../sandbox/app/server.js');

export interface FakeVultr {
  url: string;
  apiKey: string;
  instances(): VultrInstance[];
  records(domain: string): VultrRecord[];
  failNextCreate(): void;
  /** Requests seen, `METHOD path`. */
  calls: string[];
  close(): Promise<void>;
}

export interface FakeVultrOptions {
  /** The main IP of the n-th instance (0-based), a loopback address. */
  addressFor: (n: number) => string;
  appPort: number;
  appVersion: string;
  snapshots: string[];
  /** How long an instance stays pending. */
  bootMs?: number;
  /** Domains whose records are served by this PowerDNS (each must be a zone there). */
  dns?: { domains: string[]; pdns: { apiUrl: string; apiKey: string } };
}

export async function startFakeVultr(opts: FakeVultrOptions): Promise<FakeVultr> {
  const apiKey = 'fake-vultr-key';
  const instances: (VultrInstance & { region: string; plan: string; date_created: string })[] = [];
  const apps = new Map<string, ChildProcess>();
  const calls: string[] = [];
  let failCreate = false;

  const boot = (i: VultrInstance, n: number): void => {
    setTimeout(() => {
      if (!instances.includes(i as never)) return;
      i.main_ip = opts.addressFor(n);
      i.status = 'active';
      i.power_status = 'running';
      i.server_status = 'ok';
      const child = spawn(process.execPath, [APP, '--port', String(opts.appPort), '--version', opts.appVersion, '--color', 'blue', '--host', i.main_ip], { stdio: 'ignore' });
      apps.set(i.id, child);
    }, opts.bootMs ?? 300);
  };

  const records = new Map<string, VultrRecord[]>((opts.dns?.domains ?? []).map((d) => [d, []]));
  let recordNo = 0;
  /** Serve one record set of a domain through PowerDNS, as Vultr's nameservers would. */
  const publish = async (domain: string, name: string, type: string): Promise<void> => {
    const pdns = opts.dns!.pdns;
    const set = (records.get(domain) ?? []).filter((r) => r.name === name && r.type === type);
    const fqdn = name ? `${name}.${domain}.` : `${domain}.`;
    const rrset = set.length
      ? { name: fqdn, type, ttl: Math.min(...set.map((r) => r.ttl)), changetype: 'REPLACE', records: set.map((r) => ({ content: r.data, disabled: false })) }
      : { name: fqdn, type, changetype: 'DELETE' };
    const res = await fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones/${domain}.`, { method: 'PATCH', headers: { 'X-API-Key': pdns.apiKey, 'Content-Type': 'application/json' }, body: JSON.stringify({ rrsets: [rrset] }) });
    if (!res.ok) throw new Error(`stand-in → pdns: HTTP ${res.status}: ${await res.text()}`);
  };
  const handleRecords = async (domain: string, id: string | undefined, method: string, body: Record<string, unknown>, url: URL): Promise<[number, unknown?]> => {
    const list = records.get(domain);
    if (!list) return [404, { error: 'Domain not found', status: 404 }];
    if (!id && method === 'GET') {
      const perPage = Number(url.searchParams.get('per_page') ?? 100);
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      const next = offset + perPage < list.length ? String(offset + perPage) : '';
      return [200, { records: list.slice(offset, offset + perPage), meta: { total: list.length, links: { next, prev: '' } } }];
    }
    if (!id && method === 'POST') {
      if (typeof body.type !== 'string' || typeof body.data !== 'string' || typeof body.name !== 'string') return [400, { error: 'name, type and data are required', status: 400 }];
      // The real API wants an integer TTL in the JSON body.
      if (body.ttl !== undefined && !Number.isInteger(body.ttl)) return [400, { error: 'Invalid ttl', status: 400 }];
      const r: VultrRecord = { id: `rec-${++recordNo}`, type: body.type, name: body.name, data: body.data, ttl: (body.ttl as number | undefined) ?? 300, priority: -1 };
      list.push(r);
      await publish(domain, r.name, r.type);
      return [201, { record: r }];
    }
    const r = list.find((x) => x.id === id);
    if (!r) return [404, { error: 'Record not found', status: 404 }];
    if (method === 'PATCH') {
      if (typeof body.data === 'string') r.data = body.data;
      if (Number.isInteger(body.ttl)) r.ttl = body.ttl as number;
      await publish(domain, r.name, r.type);
      return [204];
    }
    if (method === 'DELETE') {
      list.splice(list.indexOf(r), 1);
      await publish(domain, r.name, r.type);
      return [204];
    }
    return [405, { error: 'Method not allowed', status: 405 }];
  };

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      calls.push(`${req.method} ${url.pathname}`);
      const send = (status: number, json?: unknown): void => {
        if (json === undefined) res.writeHead(status).end();
        else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
      };
      if (req.headers.authorization !== `Bearer ${apiKey}`) return send(401, { error: 'Invalid API token.', status: 401 });
      const d = /^\/v2\/domains\/([^/]+)\/records(?:\/([^/]+))?$/.exec(url.pathname);
      if (d) {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        } catch {
          return send(400, { error: 'Invalid JSON', status: 400 });
        }
        handleRecords(decodeURIComponent(d[1]!), d[2], req.method ?? 'GET', parsed, url).then(
          ([status, json]) => send(status, json),
          (err: unknown) => send(500, { error: String(err), status: 500 }),
        );
        return;
      }
      const m = /^\/v2\/instances(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) return send(404, { error: 'Invalid route', status: 404 });
      const id = m[1];
      if (!id && req.method === 'GET') {
        const tag = url.searchParams.get('tag');
        const label = url.searchParams.get('label');
        const all = instances.filter((i) => (!tag || i.tags?.includes(tag)) && (!label || i.label === label));
        const perPage = Number(url.searchParams.get('per_page') ?? 100);
        const offset = url.searchParams.get('cursor') ? Number(Buffer.from(url.searchParams.get('cursor')!, 'base64').toString().replace('next__', '')) : 0;
        const page = all.slice(offset, offset + perPage);
        const next = offset + perPage < all.length ? Buffer.from(`next__${offset + perPage}`).toString('base64') : '';
        return send(200, { instances: page, meta: { total: all.length, links: { next, prev: '' } } });
      }
      if (!id && req.method === 'POST') {
        let b: Record<string, unknown>;
        try {
          b = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return send(400, { error: 'Invalid JSON', status: 400 });
        }
        if (typeof b.region !== 'string' || typeof b.plan !== 'string') return send(400, { error: 'region and plan are required', status: 400 });
        if (typeof b.snapshot_id !== 'string' || !opts.snapshots.includes(b.snapshot_id)) return send(400, { error: `Invalid snapshot: ${String(b.snapshot_id)}`, status: 400 });
        const tags = Array.isArray(b.tags) ? (b.tags as string[]) : typeof b.tag === 'string' ? [b.tag] : [];
        const i = {
          id: randomUUID(),
          label: typeof b.label === 'string' ? b.label : '',
          main_ip: '0.0.0.0',
          status: 'pending',
          power_status: 'stopped',
          server_status: 'none',
          tags,
          region: b.region,
          plan: b.plan,
          date_created: new Date().toISOString(),
        };
        instances.push(i);
        boot(i, instances.length - 1);
        if (failCreate) {
          failCreate = false;
          return send(500, { error: 'Internal server error', status: 500 });
        }
        return send(202, { instance: i });
      }
      const found = instances.find((i) => i.id === id);
      if (!found) return send(404, { error: 'Not found', status: 404 });
      if (req.method === 'GET') return send(200, { instance: found });
      if (req.method === 'DELETE') {
        instances.splice(instances.indexOf(found), 1);
        apps.get(found.id)?.kill();
        apps.delete(found.id);
        return send(204);
      }
      return send(405, { error: 'Method not allowed', status: 405 });
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/v2`,
    apiKey,
    instances: () => instances.map((i) => ({ ...i })),
    records: (domain) => (records.get(domain) ?? []).map((r) => ({ ...r })),
    failNextCreate: () => void (failCreate = true),
    calls,
    async close() {
      for (const c of apps.values()) c.kill();
      await new Promise((r) => server.close(r));
    },
  };
}

