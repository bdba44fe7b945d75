// An AWS API endpoint as the worker reaches it: a small HTTP proxy in front of moto (ELBv2) or
// the CodeDeploy stand-in that counts the API calls passing through (ModifyListener,
// CreateDeployment...), can go down (stops listening: the SDK gets ECONNREFUSED, as from an
// endpoint that is down) and come back on the same port, and can hold the calls of one
// operation until released (a worker killed with that call in flight). The load balancer's data
// plane reads moto directly: an API outage does not stop an ALB forwarding traffic.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Gate {
  url: string;
  /** API operations answered through the gate so far, in order. */
  calls(op?: string): string[];
  /** Stop listening and drop open connections: calls fail with ECONNREFUSED until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Calls of `op` wait (unanswered) until release(); resolves when one is waiting. */
  hold(op: string): { reached: Promise<void>; release(): void };
  close(): Promise<void>;
}

/** The operation of an AWS request: JSON protocol (X-Amz-Target) or query protocol (Action=). */
export function operationOf(headers: http.IncomingHttpHeaders, body: string): string {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) return target.slice(target.lastIndexOf('.') + 1);
  return /(?:^|&)Action=([A-Za-z0-9]+)/.exec(body)?.[1] ?? '?';
}

export async function startGate(upstream: string): Promise<Gate> {
  const to = new URL(upstream);
  const seen: string[] = [];
  const holds = new Map<string, { waiting: () => void; released: Promise<void> }>();
  const sockets = new Set<Socket>();
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = operationOf(req.headers, body.toString('utf8'));
      const forward = (): void => {
        const up = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
          seen.push(op);
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', (err) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`gate: ${err.message}`);
        });
        up.end(body);
      };
      const h = holds.get(op);
      if (!h) return forward();
      h.waiting();
      void h.released.then(forward);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) => new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const closeServer = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    calls: (op) => seen.filter((s) => op === undefined || s === op),
    down: closeServer,
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    hold(op) {
      let waiting!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((r) => (waiting = r));
      const released = new Promise<void>((r) => (release = r));
      holds.set(op, { waiting, released });
      return {
        reached,
        release: () => {
          holds.delete(op);
          release();
        },
      };
    },
    async close() {
      for (const op of [...holds.keys()]) holds.delete(op);
      await closeServer();
      agent.destroy();
    },
  };
}
