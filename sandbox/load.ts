// A bounded load generator: a steady rate of requests through the routers for as long as it
// runs, recording every failure, the versions that answered and the latency of each request.
import { Resolver } from 'node:dns';
import http from 'node:http';
import type { LookupFunction, Socket } from 'node:net';

export interface LoadStats {
  sent: number;
  failed: number;
  failures: string[];
  /**
   * Requests re-sent because a keep-alive connection that had already carried an answer was
   * closed (FIN or RST) before any byte of this request's answer: what an nginx worker retiring
   * at reload does to its idle keep-alive connections. Browsers, curl and HTTP client libraries
   * re-send an idempotent request then (RFC 9112 §9.3.1). Counted, not hidden; the retry goes on
   * a fresh connection, and a second failure counts as failed. A request on a fresh connection
   * is never retried.
   */
  staleRetries: number;
  /**
   * Of staleRetries, those Node did not flag `req.reusedSocket`: a request that waited in the
   * agent's queue (every socket busy) and was handed a socket right as it finished its previous
   * answer. Node sets the flag only for sockets taken from the idle pool.
   */
  staleRetriesNotFlaggedByNode: number;
  /** The first stale retries and failures, with when and on which connection they happened. */
  incidents: LoadIncident[];
  /** Answers per X-App-Version. */
  versions: Record<string, number>;
  latenciesMs: number[];
  /** One entry per request: when it was sent (epoch ms), its latency, and whether it failed. */
  samples: LoadSample[];
  /** Writes the app acknowledged (a 2xx with X-Write-Id): when the request was sent and the row's id. */
  writes: { at: number; id: string }[];
}

export interface LoadIncident {
  kind: 'staleRetry' | 'failed';
  /** Epoch ms when the request was sent. */
  at: number;
  url: string;
  error: string;
  /** Answers the connection had carried before this request (0: a fresh connection). */
  earlierAnswers: number;
  nodeReusedFlag: boolean;
  /** Whether this was the retry of a stale request. */
  retry: boolean;
}

export interface LoadSample {
  at: number;
  ms: number;
  ok: boolean;
  /** HTTP status of the answer; 0 when there was none (connection error, timeout). */
  status: number;
  /** The answer's X-App-Version (also on a 500), null without an answer: traffic shares per time window. */
  version: string | null;
}

export interface Load {
  stop(): Promise<LoadStats>;
}

/** Send `ratePerSecond` requests in total, spread over `urls`, until stop() or `maxMs`. */
export function startLoad(urls: string[], ratePerSecond: number, maxMs = 5 * 60_000, opts: { maxSockets?: number; lookup?: LookupFunction } = {}): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
  const stats: LoadStats = { sent: 0, failed: 0, failures: [], staleRetries: 0, staleRetriesNotFlaggedByNode: 0, incidents: [], versions: {}, latenciesMs: [], samples: [], writes: [] };
  // Answers each connection has carried to the end, to tell a stale keep-alive connection from a fresh one.
  const answersOn = new WeakMap<Socket, number>();
  const incident = (i: LoadIncident): void => void (stats.incidents.length < 200 && stats.incidents.push(i));
  const inflight = new Set<Promise<void>>();
  const started = Date.now();
  const one = (url: string, retry = true): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const at = Date.now();
      if (retry) stats.sent++;
      let answered = false;
      let status = 0;
      let version: string | null = null;
      let socket: Socket | undefined;
      let earlierAnswers = 0;
      const fail = (why: string): void => {
        stats.failed++;
        incident({ kind: 'failed', at, url, error: why, earlierAnswers, nodeReusedFlag: req.reusedSocket, retry: !retry });
        stats.samples.push({ at, ms: performance.now() - t0, ok: false, status, version });
        if (stats.failures.length < 20) stats.failures.push(`${url}: ${why}`);
        resolve();
      };
      // The retry goes on a fresh connection: other pooled sockets may be stale too.
      const req = http.get(url, { agent: retry ? agent : false, timeout: 5000, ...(opts.lookup ? { lookup: opts.lookup } : {}) }, (res) => {
        answered = true;
        status = res.statusCode ?? 0;
        const header = res.headers['x-app-version'];
        version = typeof header === 'string' ? header : null;
        res.resume();
        res.on('end', () => {
          if (socket) answersOn.set(socket, (answersOn.get(socket) ?? 0) + 1);
          stats.latenciesMs.push(performance.now() - t0);
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}${version ? ` from ${version}` : ''}`);
          stats.samples.push({ at, ms: performance.now() - t0, ok: true, status, version });
          const writeId = res.headers['x-write-id'];
          if (typeof writeId === 'string') stats.writes.push({ at, id: writeId });
          const v = version ?? '-';
          stats.versions[v] = (stats.versions[v] ?? 0) + 1;
          resolve();
        });
        res.on('error', (e) => fail(e.message));
      });
      req.on('socket', (s: Socket) => {
        socket = s;
        earlierAnswers = answersOn.get(s) ?? 0;
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const closedByPeer = e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.message === 'socket hang up';
        if (retry && !answered && closedByPeer && (earlierAnswers > 0 || req.reusedSocket)) {
          stats.staleRetries++;
          if (!req.reusedSocket) stats.staleRetriesNotFlaggedByNode++;
          incident({ kind: 'staleRetry', at, url, error: e.message, earlierAnswers, nodeReusedFlag: req.reusedSocket, retry: false });
          return void one(url, false).then(resolve);
        }
        fail(e.message);
      });
    });
  const interval = 1000 / ratePerSecond;
  let next = performance.now();
  let i = 0;
  let stopped = false;
  const tick = (): void => {
    if (stopped || Date.now() - started > maxMs) return;
    const now = performance.now();
    while (next <= now) {
      const p = one(urls[i++ % urls.length]!);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      next += interval;
    }
    setTimeout(tick, Math.max(1, next - performance.now()));
  };
  tick();
  return {
    async stop() {
      stopped = true;
      await Promise.all(inflight);
      agent.destroy();
      return stats;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A `lookup` that asks one DNS server (e.g. the sandbox PowerDNS) for A records on every new
 * connection, as a client whose cached answer just expired would: load through a DNS name
 * follows a repointed record.
 */
export function lookupVia(server: string, port: number): LookupFunction {
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([`${server}:${port}`]);
  let turn = 0;
  return (hostname, options, callback) => {
    resolver.resolve4(hostname, (err, addresses) => {
      if (err || addresses.length === 0) return callback(err ?? new Error(`${hostname}: no A record at ${server}:${port}`), '', 4);
      const address = addresses[turn++ % addresses.length]!;
      if (options.all) return (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family: 4 }]);
      callback(null, address, 4);
    });
  };
}
