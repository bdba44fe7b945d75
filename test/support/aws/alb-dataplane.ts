// A small ALB data plane for the tests: moto stores the listener and target groups but carries
// no traffic and calls every target healthy. This proxy follows moto's listener (weights,
// registered targets, health-check settings) a few times a second, probes each target's health
// path with its group's own settings (intervals scaled down for tests), and forwards real HTTP
// requests by weight to healthy targets, like an ALB: a group with no healthy target fails
// open (all its targets), a target that cannot be reached is a 502.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeListenersCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';

interface Target {
  key: string;
  address: string;
  port: number;
  healthy: boolean;
  /** Consecutive probe results in the current direction. */
  streak: number;
  nextProbeAt: number;
  probing: boolean;
}

interface Group {
  arn: string;
  weight: number;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthyAfter: number;
  unhealthyAfter: number;
  targets: Target[];
  next: number;
}

export interface DataPlaneOptions {
  elbv2: ElasticLoadBalancingV2Client;
  listenerArn: string;
  /** How often moto is read; default 200 ms. */
  refreshMs?: number;
  /** Health-check intervals and timeouts are multiplied by this (1 = as configured); default 1. */
  timeScale?: number;
}

export interface DataPlane {
  url: string;
  /** Weights in force as the proxy last read them, by target group ARN. */
  weights(): Record<string, number>;
  /** When the proxy first saw weights where `arn` has all the traffic (epoch ms), if it has. */
  sawAllTo(arn: string, since: number): Promise<number>;
  healthy(arn: string): string[];
  /** Listener reads that forwarded nowhere (moto mid-update), skipped. */
  glitches(): number;
  /** Requests answered 502 because the target could not be reached: when, which target, why. */
  upstreamErrors(): string[];
  close(): Promise<void>;
}

export async function startDataPlane(o: DataPlaneOptions): Promise<DataPlane> {
  const scale = o.timeScale ?? 1;
  const groups = new Map<string, Group>();
  const changes: { at: number; weights: Record<string, number> }[] = [];
  let stopped = false;
  let lastError = '';
  let glitches = 0;

  async function refresh(): Promise<void> {
    const l = await o.elbv2.send(new DescribeListenersCommand({ ListenerArns: [o.listenerArn] }));
    const action = l.Listeners?.[0]?.DefaultActions?.find((a) => a.Type === 'forward');
    const weights: Record<string, number> = {};
    for (const g of action?.ForwardConfig?.TargetGroups ?? []) if (g.TargetGroupArn) weights[g.TargetGroupArn] = g.Weight ?? 1;
    const arns = Object.keys(weights);
    // moto answers reads while it applies a ModifyListener; a listener read forwarding nowhere is
    // that, not a configuration (cutover never sets both weights to 0): keep the last one.
    if (Object.values(weights).every((w) => w === 0) && groups.size > 0) {
      glitches++;
      return;
    }
    const tgs = arns.length ? await o.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: arns })) : { TargetGroups: [] };
    const healths = await Promise.all((tgs.TargetGroups ?? []).map((tg) => o.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.TargetGroupArn! }))));
    // Everything read first, then applied at once: requests never see half a refresh.
    for (const [i, tg] of (tgs.TargetGroups ?? []).entries()) {
      const arn = tg.TargetGroupArn!;
      const health = healths[i]!;
      const g: Group = groups.get(arn) ?? { arn, weight: 0, path: '/', intervalMs: 30_000, timeoutMs: 5000, healthyAfter: 2, unhealthyAfter: 3, targets: [], next: 0 };
      g.weight = weights[arn] ?? 0;
      g.path = tg.HealthCheckPath ?? '/';
      g.intervalMs = (tg.HealthCheckIntervalSeconds ?? 30) * 1000 * scale;
      g.timeoutMs = (tg.HealthCheckTimeoutSeconds ?? 5) * 1000 * scale;
      g.healthyAfter = tg.HealthyThresholdCount ?? 2;
      g.unhealthyAfter = tg.UnhealthyThresholdCount ?? 3;
      const registered = (health.TargetHealthDescriptions ?? []).map((d) => ({ address: d.Target!.Id!, port: d.Target!.Port ?? tg.Port ?? 80 }));
      g.targets = registered.map((r) => g.targets.find((t) => t.key === `${r.address}:${r.port}`) ?? { key: `${r.address}:${r.port}`, ...r, healthy: false, streak: 0, nextProbeAt: 0, probing: false });
      groups.set(arn, g);
    }
    for (const arn of [...groups.keys()]) if (!(arn in weights)) groups.delete(arn);
    const last = changes.at(-1)?.weights;
    if (!last || JSON.stringify(last) !== JSON.stringify(weights)) changes.push({ at: Date.now(), weights });
  }

  function probe(g: Group, t: Target): void {
    t.probing = true;
    const req = http.get({ host: t.address, port: t.port, path: g.path, timeout: g.timeoutMs, agent: false }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(false));
    let finished = false;
    function done(ok: boolean): void {
      if (finished) return;
      finished = true;
      t.probing = false;
      t.nextProbeAt = Date.now() + g.intervalMs;
      if (ok === t.healthy) t.streak = 0;
      else if (++t.streak >= (ok ? g.healthyAfter : g.unhealthyAfter)) {
        t.healthy = ok;
        t.streak = 0;
      }
    }
  }

  const refresher = (async () => {
    while (!stopped) {
      try {
        await refresh();
        lastError = '';
      } catch (err) {
        lastError = String(err);
      }
      await new Promise((r) => setTimeout(r, o.refreshMs ?? 200));
    }
  })();
  const prober = setInterval(() => {
    const now = Date.now();
    for (const g of groups.values()) for (const t of g.targets) if (!t.probing && now >= t.nextProbeAt) probe(g, t);
  }, 20);

  function pick(): Target | undefined {
    const live = [...groups.values()].filter((g) => g.weight > 0 && g.targets.length > 0);
    const total = live.reduce((n, g) => n + g.weight, 0);
    let r = Math.random() * total;
    const g = live.find((x) => (r -= x.weight) < 0) ?? live.at(-1);
    if (!g) return undefined;
    const healthy = g.targets.filter((t) => t.healthy);
    const pool = healthy.length > 0 ? healthy : g.targets; // fail open, as an ALB does
    return pool[g.next++ % pool.length];
  }

  // Idle upstream connections are dropped after 1 s, before the targets' own keep-alive timeout
  // (Node's 5 s) closes them: otherwise a request can go out on a connection the target is
  // closing and get a reset (the 502s AWS documents for a target keep-alive shorter than the ALB's).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 1000 });
  const upstreamErrors: string[] = [];
  const server = http.createServer((req, res) => {
    const t = pick();
    if (!t) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`no target group with weight and targets${lastError ? ` (${lastError})` : ''}\n`);
      return;
    }
    const up = http.request({ host: t.address, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (err) => {
      if (upstreamErrors.length < 100) upstreamErrors.push(`${new Date().toISOString()} ${t.key}: ${err.message}`);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`502 Bad Gateway: ${t.key}: ${err.message}\n`);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    weights: () => Object.fromEntries([...groups.values()].map((g) => [g.arn, g.weight])),
    glitches: () => glitches,
    upstreamErrors: () => [...upstreamErrors],
    healthy: (arn) => groups.get(arn)?.targets.filter((t) => t.healthy).map((t) => t.key) ?? [],
    async sawAllTo(arn, since) {
      for (;;) {
        const hit = changes.find((c) => c.at >= since && Object.entries(c.weights).every(([a, w]) => (a === arn ? w > 0 : w === 0)));
        if (hit) return hit.at;
        if (stopped) throw new Error('data plane closed');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      stopped = true;
      clearInterval(prober);
      await refresher;
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
