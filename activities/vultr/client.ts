// @vultr/vultr-node (2.8.0, unmaintained since 2023) made safe: it resolves errors instead of
// rejecting them (an HTTP 404 or a refused connection comes back as a resolved Error), has no
// timeouts and no types. Every call here rejects on failure with the API's message and gives
// up after a timeout; `baseUrl` points it at a stand-in in tests.
import * as vultrNode from '@vultr/vultr-node';
import type { VultrInstance } from './plan';

export interface VultrClient {
  listInstances(tag: string): Promise<VultrInstance[]>;
  getInstance(id: string): Promise<VultrInstance>;
  createInstance(body: Record<string, unknown>): Promise<VultrInstance>;
}

export class VultrError extends Error {
  override name = 'VultrError';
}

const TIMEOUT_MS = 30_000;

async function call<T>(what: string, p: () => unknown): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      Promise.resolve().then(p),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new VultrError(`${what}: no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS))),
    ]);
    if (result instanceof Error) throw new VultrError(`${what}: ${result.message}`);
    return result as T;
  } catch (err) {
    if (err instanceof VultrError) throw err;
    throw new VultrError(`${what}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

export function createVultrClient(apiKey: string, baseUrl?: string): VultrClient {
  const api = vultrNode.initialize({ apiKey, ...(baseUrl ? { baseUrl: baseUrl.replace(/\/+$/, '') } : {}) });
  return {
    async listInstances(tag) {
      const all: VultrInstance[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await call<{ instances?: VultrInstance[]; meta?: { links?: { next?: string } } } | undefined>('list instances', () =>
          api.instances.listInstances({ tag, per_page: '100', ...(cursor ? { cursor } : {}) }),
        );
        if (!r || !Array.isArray(r.instances)) throw new VultrError('list instances: the answer has no instances list');
        all.push(...r.instances);
        cursor = r.meta?.links?.next || undefined;
        if (!cursor) break;
      }
      return all;
    },
    async getInstance(id) {
      const r = await call<{ instance?: VultrInstance } | undefined>(`get instance ${id}`, () => api.instances.getInstance({ 'instance-id': id }));
      if (!r?.instance) throw new VultrError(`get instance ${id}: the answer has no instance`);
      return r.instance;
    },
    async createInstance(body) {
      const r = await call<{ instance?: VultrInstance } | undefined>(`create instance ${String(body.label)}`, () => api.instances.createInstance(body));
      if (!r?.instance) throw new VultrError(`create instance ${String(body.label)}: the answer has no instance`);
      return r.instance;
    },
  };
}
