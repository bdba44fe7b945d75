// A small client of the Vultr API v2 (instances) over Node's fetch: Bearer auth, cursor paging,
// a timeout on every call, and every failure a rejection carrying the API's `error` message.
//
// Not @vultr/vultr-node: that package (2.8.0, unmaintained since 2023) lists TypeScript 4 as a
// run-time dependency, which the installed cutover package must not carry (package.test.ts:
// no TypeScript at run time), resolves errors instead of rejecting them and has no timeouts.
// The shapes here are the same documented v2 ones it speaks; `baseUrl` points it at a stand-in.
import type { VultrInstance, VultrRecord } from './plan';

export interface VultrClient {
  listInstances(tag: string): Promise<VultrInstance[]>;
  getInstance(id: string): Promise<VultrInstance>;
  createInstance(body: Record<string, unknown>): Promise<VultrInstance>;
  listRecords(domain: string): Promise<VultrRecord[]>;
  createRecord(domain: string, record: { name: string; type: string; data: string; ttl: number }): Promise<void>;
  updateRecord(domain: string, id: string, change: { ttl: number }): Promise<void>;
  deleteRecord(domain: string, id: string): Promise<void>;
}

export class VultrError extends Error {
  override name = 'VultrError';
}

export const VULTR_API = 'https://api.vultr.com/v2';
const TIMEOUT_MS = 30_000;

export function createVultrClient(apiKey: string, baseUrl: string = VULTR_API): VultrClient {
  const base = baseUrl.replace(/\/+$/, '');
  async function call<T>(what: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      throw new VultrError(`${what}: ${cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const error = (json as { error?: string } | undefined)?.error;
      throw new VultrError(`${what}: HTTP ${res.status} ${res.statusText}${error ? `: ${error}` : ''}`);
    }
    return json as T;
  }
  return {
    async listInstances(tag) {
      const all: VultrInstance[] = [];
      let cursor = '';
      for (let page = 0; page < 100; page++) {
        const q = new URLSearchParams({ tag, per_page: '100', ...(cursor ? { cursor } : {}) });
        const r = await call<{ instances?: VultrInstance[]; meta?: { links?: { next?: string } } } | undefined>('list instances', 'GET', `/instances?${q}`);
        if (!r || !Array.isArray(r.instances)) throw new VultrError('list instances: the answer has no instances list');
        all.push(...r.instances);
        cursor = r.meta?.links?.next ?? '';
        if (!cursor) break;
      }
      return all;
    },
    async getInstance(id) {
      const r = await call<{ instance?: VultrInstance } | undefined>(`get instance ${id}`, 'GET', `/instances/${encodeURIComponent(id)}`);
      if (!r?.instance) throw new VultrError(`get instance ${id}: the answer has no instance`);
      return r.instance;
    },
    async listRecords(domain) {
      const all: VultrRecord[] = [];
      let cursor = '';
      for (let page = 0; page < 100; page++) {
        const q = new URLSearchParams({ per_page: '500', ...(cursor ? { cursor } : {}) });
        const r = await call<{ records?: VultrRecord[]; meta?: { links?: { next?: string } } } | undefined>(`list records of ${domain}`, 'GET', `/domains/${encodeURIComponent(domain)}/records?${q}`);
        if (!r || !Array.isArray(r.records)) throw new VultrError(`list records of ${domain}: the answer has no records list`);
        all.push(...r.records);
        cursor = r.meta?.links?.next ?? '';
        if (!cursor) break;
      }
      return all;
    },
    async createRecord(domain, record) {
      await call(`create ${record.type} record ${record.name} ${record.data}`, 'POST', `/domains/${encodeURIComponent(domain)}/records`, record);
    },
    async updateRecord(domain, id, change) {
      await call(`update record ${id}`, 'PATCH', `/domains/${encodeURIComponent(domain)}/records/${encodeURIComponent(id)}`, change);
    },
    async deleteRecord(domain, id) {
      await call(`delete record ${id}`, 'DELETE', `/domains/${encodeURIComponent(domain)}/records/${encodeURIComponent(id)}`);
    },
    async createInstance(body) {
      const r = await call<{ instance?: VultrInstance } | undefined>(`create instance ${String(body.label)}`, 'POST', '/instances', body);
      if (!r?.instance) throw new VultrError(`create instance ${String(body.label)}: the answer has no instance`);
      return r.instance;
    },
  };
}
