// A real Prometheus (Debian package, /usr/bin/prometheus) on loopback for tests, the demo and
// benchmarks, scraping the sample apps. Start it once per suite: it is ready in ~0.1 s, but
// target discovery hands static targets to the scrapers only on its 5 s tick, so the first
// scrape comes ~5 s after start and `rate()` (two samples) has data only ~7 s after start.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, sleep, spawnDaemon, waitForTcp } from './procs';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusOptions {
  /** Holds the config, the TSDB (`data/`) and the log. */
  dir: string;
  /** Scrape targets, `host:port`, all in job "app". */
  targets: string[];
  scrapeIntervalMs?: number;
  port?: number;
}

export interface SandboxPrometheus {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
  /** Poll `/api/v1/query` until `query` returns at least one series (default timeout 20 s). */
  waitForData(query: string, timeoutMs?: number): Promise<void>;
  /** Stop the server; idempotent. */
  stop(): Promise<void>;
}

const TARGET = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export function prometheusConfig(targets: string[], intervalMs: number): string {
  for (const t of targets) if (!TARGET.test(t)) throw new Error(`prometheus: target ${JSON.stringify(t)} is not host:port`);
  const every = `${intervalMs}ms`;
  return [
    'global:',
    `  scrape_interval: ${every}`,
    `  scrape_timeout: ${every}`,
    `  evaluation_interval: ${every}`,
    'scrape_configs:',
    '  - job_name: app',
    '    static_configs:',
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
    '',
  ].join('\n');
}

const logTail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
};

/** Does the Prometheus query API answer `query` with at least one series (or a number)? */
async function hasData(url: string, query: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { data?: { resultType?: string; result?: unknown } };
    const result = body.data?.result;
    if (body.data?.resultType === 'scalar') return Array.isArray(result) && Number.isFinite(Number(result[1]));
    return Array.isArray(result) && result.length > 0;
  } catch {
    return false;
  }
}

export async function startPrometheus(o: PrometheusOptions): Promise<SandboxPrometheus> {
  if (!existsSync(PROMETHEUS_BIN)) throw new Error(`prometheus: ${PROMETHEUS_BIN} is missing; run scripts/setup.sh`);
  const dir = resolve(o.dir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(o.targets, o.scrapeIntervalMs ?? 1000));
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const log = join(dir, 'prometheus.log');
  const d = spawnDaemon(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    log,
  );
  const died = (): string | undefined => (d.isRunning() ? undefined : `prometheus exited: ${logTail(log)}`);
  const stop = (): Promise<void> => d.stop();
  try {
    await waitForTcp('prometheus', '127.0.0.1', port, 15_000, died);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ready) break;
      const problem = died();
      if (problem) throw new Error(problem);
      if (Date.now() > deadline) throw new Error(`prometheus: ${url}/-/ready not ready after 15000 ms`);
      await sleep(100);
    }
    if (d.child.pid === undefined) throw new Error('prometheus: no pid');
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    pid: d.child.pid,
    stop,
    async waitForData(query: string, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await hasData(url, query))) {
        const problem = died();
        if (problem) throw new Error(problem);
        if (Date.now() > deadline) throw new Error(`prometheus: no data for ${query} after ${timeoutMs} ms`);
        await sleep(250);
      }
    },
  };
}
