// A bounded load generator: a steady rate of requests through the routers for as long as it
// runs, recording every failure, the versions that answered and the latency of each request.
import http from 'node:http';

export interface LoadStats {
  sent: number;
  failed: number;
  failures: string[];
  /**
   * Requests re-sent because a reused keep-alive connection was closed by an nginx worker
   * retiring at reload before any answer, as browsers and HTTP clients do for idempotent
   * requests. Counted, not hidden; a second failure counts as failed.
   */
  staleRetries: number;
  /** Answers per X-App-Version. */
  versions: Record<string, number>;
  latenciesMs: number[];
  /** One entry per request: when it was sent (epoch ms), its latency, and whether it failed. */
  samples: LoadSample[];
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
export function startLoad(urls: string[], ratePerSecond: number, maxMs = 5 * 60_000): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const stats: LoadStats = { sent: 0, failed: 0, failures: [], staleRetries: 0, versions: {}, latenciesMs: [], samples: [] };
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
      const fail = (why: string): void => {
        stats.failed++;
        stats.samples.push({ at, ms: performance.now() - t0, ok: false, status, version });
        if (stats.failures.length < 20) stats.failures.push(`${url}: ${why}`);
        resolve();
      };
      // The retry goes on a fresh connection: other pooled sockets may be stale too.
      const req = http.get(url, { agent: retry ? agent : false, timeout: 5000 }, (res) => {
        answered = true;
        status = res.statusCode ?? 0;
        const header = res.headers['x-app-version'];
        version = typeof header === 'string' ? header : null;
        res.resume();
        res.on('end', () => {
          stats.latenciesMs.push(performance.now() - t0);
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}${version ? ` from ${version}` : ''}`);
          stats.samples.push({ at, ms: performance.now() - t0, ok: true, status, version });
          const v = version ?? '-';
          stats.versions[v] = (stats.versions[v] ?? 0) + 1;
          resolve();
        });
        res.on('error', (e) => fail(e.message));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (retry && !answered && req.reusedSocket && (e.code === 'ECONNRESET' || e.message === 'socket hang up')) {
          stats.staleRetries++;
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
