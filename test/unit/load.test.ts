// The load generator's rule for what counts as a failed request, against real HTTP servers on
// loopback that close connections the way an nginx worker retiring at reload does, and the
// way a broken server does.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, test } from 'node:test';
import { startLoad } from '../../sandbox/load';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** A keep-alive server; `drop(n)` says whether to close the connection, unanswered, at its n-th request. */
async function server(drop: (requestOnConnection: number) => boolean, answerDelayMs = 0): Promise<string> {
  const counts = new WeakMap<Socket, number>();
  const s = http.createServer({ keepAlive: true }, (req, res) => {
    const n = (counts.get(req.socket) ?? 0) + 1;
    counts.set(req.socket, n);
    if (drop(n)) return void req.socket.destroy();
    setTimeout(() => res.writeHead(200, { 'X-App-Version': 'v1' }).end('ok\n'), answerDelayMs);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
}

test('a keep-alive connection closed before any byte of the next answer is retried once, even when Node does not flag the socket as reused', async () => {
  // One socket and slow answers: every request after the first waits in the agent's queue and
  // is handed the socket as its previous answer ends, the case Node's req.reusedSocket misses.
  const url = await server((n) => n === 2, 30);
  const load = startLoad([url], 60, 10_000, { maxSockets: 1 });
  await new Promise((r) => setTimeout(r, 1000));
  const stats = await load.stop();
  assert.ok(stats.sent > 20, `sent ${stats.sent}`);
  assert.equal(stats.failed, 0, JSON.stringify(stats.incidents.slice(0, 3)));
  assert.ok(stats.staleRetries > 0, 'some requests met a closed keep-alive connection');
  assert.ok(stats.staleRetriesNotFlaggedByNode > 0, 'some of them had waited in the agent queue (not flagged by Node)');
  assert.ok(stats.incidents.every((i) => i.kind === 'staleRetry' && i.earlierAnswers === 1));
  assert.equal(stats.versions.v1, stats.sent);
});

test('a request on a fresh connection that is closed unanswered is a failure, never retried', async () => {
  const url = await server(() => true);
  const load = startLoad([url], 50, 10_000);
  await new Promise((r) => setTimeout(r, 400));
  const stats = await load.stop();
  assert.ok(stats.sent > 5);
  assert.equal(stats.failed, stats.sent);
  assert.equal(stats.staleRetries, 0);
  assert.ok(stats.incidents.every((i) => i.kind === 'failed' && i.earlierAnswers === 0));
});

test('a stale connection whose retry fails again counts as failed', async () => {
  // Every connection answers once, then drops the next request; the retry goes on a fresh
  // connection, which this server drops too (it is the first request there: n === 1 fails).
  let firstAnswered = false;
  const url = await server((n) => {
    if (n === 1 && !firstAnswered) {
      firstAnswered = true;
      return false;
    }
    return true;
  });
  const load = startLoad([url], 50, 10_000, { maxSockets: 1 });
  await new Promise((r) => setTimeout(r, 400));
  const stats = await load.stop();
  assert.equal(stats.staleRetries, 1);
  assert.equal(stats.failed, stats.sent - 1, 'everything but the first request failed');
  assert.ok(stats.incidents.some((i) => i.kind === 'failed' && i.retry));
});
