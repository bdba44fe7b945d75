// Disaster-recovery failover on the real world (test/support/dr-world.ts): PostgreSQL 15 primary
// with a synchronous streaming standby, PowerDNS, sshd sandbox sites, the Temporal dev server and
// the worker as its own process, driven by the real `cutover` CLI.
// 1. Under HTTP load through the DNS name (resolved at PowerDNS; every request a write the app
//    acknowledges with its row id) the primary's PostgreSQL and app die; the monitor (auto)
//    detects, pages, fails over; the worker is SIGKILLed after the promotion and the restarted
//    one finishes without a second promotion. The old primary, started again by its host while
//    the worker was down, comes up read-only (the fence's standby.signal): no session can write
//    to it, and it is stopped again before the failover is declared. The standby took over with
//    every write the app acknowledged and takes the new ones; dig sees the new answer, the smoke
//    test passed through it, and the result carries RTO, RPO and step durations. Started once
//    more, the old primary still refuses writes; then `cutover failback` re-seeds it from ams
//    and fails over back to it with every write.
// 2. A standby whose replay is paused lags past the gate: `failover start` refuses (exit 4)
//    and the fence's undo brings the old primary back; with --accept-data-loss it goes ahead
//    and reports the RPO estimate and a warning.
// 3. A Vultr standby (the API stand-in), confirmed in Slack: the monitor's incident message has
//    a "Confirm failover" button; `cutover slack-gateway` (the real CLI process) refuses forged
//    and stale signatures (401), an unmapped Slack user and a mapped one who is not a confirmer,
//    and fails over on bob's click. Instances from the snapshot, one create's answer lost and not
//    repeated, DNS gets the instances' IPs and the smoke test passes through them.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { monitorStateQuery, monitorWorkflowId, failoverStateQuery, type FailbackResult, type FailoverResult } from '../../contract/failover';
import { httpGet } from '../../activities/probe';
import { lookupVia, startLoad } from '../../sandbox/load';
import { freePort, sleep } from '../../sandbox/procs';
import { activityRuns } from '../support/histories';
import { DNS_NAME, SITE, startDrWorld } from '../support/dr-world';
import { buttonClickBody, slackSigned } from '../support/slack-click';

const worlds: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const w of worlds) await w.stop();
});

async function connect(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const SECRET = 'dr-signing-secret';

function signed(body: string, at?: number, secret = SECRET): Record<string, string> {
  return slackSigned(body, secret, at);
}

/** A click on the "Confirm failover" button of message `ts` in `channel` by Slack user `user`. */
function confirmClick(user: string, monitorId: string, channel: string, ts: string): string {
  return buttonClickBody({ user, actionId: 'cutover_confirm_failover', blockId: 'cutover_failover', value: monitorId, label: 'Confirm failover', channel, channelName: 'incidents', ts, text: 'incident' });
}

/** The old primary up again must be in recovery and refuse writes, whatever the session sets; its highest order id. */
async function assertRefusesWrites(port: number): Promise<number> {
  const c = await connect(port);
  try {
    assert.equal((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, true, 'up in recovery (standby.signal)');
    const rows = "SELECT count(*)::text || '/' || coalesce(max(id), 0)::text AS n FROM orders";
    const before = (await c.query<{ n: string }>(rows)).rows[0]!.n;
    await assert.rejects(c.query('INSERT INTO orders DEFAULT VALUES'), /read-only transaction/);
    await c.query('SET default_transaction_read_only = off');
    await assert.rejects(c.query('BEGIN READ WRITE'), /cannot set transaction read-write mode during recovery/);
    await c.query('ROLLBACK');
    await assert.rejects(c.query('INSERT INTO orders DEFAULT VALUES'), /read-only transaction/);
    assert.equal((await c.query<{ n: string }>(rows)).rows[0]!.n, before, 'no write landed on it');
    return Number(before.split('/')[1]);
  } finally {
    await c.end();
  }
}

describe('failover on real PostgreSQL, PowerDNS and sshd', () => {
  test('the monitor detects a dead primary and fails over; a worker killed after the promotion resumes without a second one; failback brings it all back', { timeout: 600_000 }, async () => {
    const w = await startDrWorld('dr', { auto: true, probeIntervalMs: 1000, probeFailures: 3, appStartDelayS: 3 });
    worlds.push(w);
    const started = await w.cutover(['failover', 'monitor', SITE, '--json']);
    assert.equal(started.code, 0, started.stderr);
    const monitor = w.client.workflow.getHandle(monitorWorkflowId(SITE));
    await eventually('a good probe', async () => ((await monitor.query(monitorStateQuery)).lastProbe?.ok ? true : undefined));

    // Users: 20 requests a second through the DNS name, each a write the app acknowledges.
    const load = startLoad([`http://app.example.test:${w.appPort}/`], 20, 10 * 60_000, { lookup: lookupVia('127.0.0.1', w.pdns.dnsPort) });
    const stats = await eventually('writes through the app', async () => {
      const probe = await httpGet(new URL(`http://${w.addresses.fra}:${w.appPort}/`), 2000);
      return probe.headers['x-write-id'] !== undefined && probe.status === 200 ? true : undefined;
    });
    assert.ok(stats);
    await sleep(1500);
    // The primary dies: its app and its PostgreSQL (immediate shutdown, as a crash).
    execFileSync(`${w.fra.root}/bin/slot`, ['stop', 'blue']);
    process.kill(Number(readFileSync(`${w.primary.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]), 'SIGQUIT');
    const killedAt = Date.now();

    // Between promotion and DNS (the standby's app start takes a few seconds): kill the worker.
    const failoverId = await eventually('the failover', async () => (await monitor.query(monitorStateQuery)).incident?.failoverId ?? undefined);
    const failover = w.client.workflow.getHandle(failoverId);
    await eventually('the promotion', async () => ((await failover.query(failoverStateQuery)).phase === 'scale' ? true : undefined));
    await w.worker.kill();
    // Meanwhile the old primary's host starts its PostgreSQL again (a reboot): the fence's
    // standby.signal brings it up in recovery, so it cannot take a write, even one that asks.
    w.restartPrimary();
    const oldMaxId = await assertRefusesWrites(w.primary.port);
    await w.worker.start();

    const r = (await monitor.result()) as FailoverResult;
    const rtoMs = Date.now() - killedAt;
    await sleep(3000); // users keep writing, now on ams
    const loadStats = await load.stop();
    const acked = loadStats.writes.map((x) => Number(x.id));
    assert.equal(r.phase, 'done');
    assert.deepEqual(r.steps.map((s) => s.step), ['fence', 'lag-gate', 'promote', 'scale', 'dns', 'smoke', 'declare']);
    assert.ok(r.rtoMs > 2000 && r.rtoMs <= rtoMs + 2000, `RTO from detection: ${r.rtoMs} (kill → result ${rtoMs})`);
    assert.deepEqual(r.rpo, { bytes: 0, seconds: 0 });
    assert.deepEqual(r.warnings, [], 'a restart of the fenced primary is no warning: it came back read-only');
    assert.match(r.steps.find((s) => s.step === 'declare')!.summary, /fra fenced \(it had come back read-only: the standby\.signal fence held; stopped again\)/);

    // One promotion, though the worker died after it.
    const runs = await activityRuns(w.client, failoverId);
    const promotes = runs.filter((a) => a.type === 'pgPromote');
    assert.equal(promotes.length, 1);
    assert.equal((promotes[0]!.result as { promoted: boolean }).promoted, true);
    assert.equal(w.worker.startCount, 2);

    // The old primary is stopped; the new one has every write the app acknowledged, and the
    // writes acknowledged after the DNS change went to it.
    await assert.rejects(connect(w.primary.port), /ECONNREFUSED|connect/);
    const dnsAt = r.steps.find((s) => s.step === 'dns')!.startedAt;
    const after = loadStats.writes.filter((x) => x.at > dnsAt + r.steps.find((s) => s.step === 'dns')!.ms!);
    assert.ok(acked.length > 10 && after.length > 10, `acknowledged writes ${acked.length}, after the DNS change ${after.length}`);
    assert.ok(loadStats.writes.some((x) => x.at < killedAt), 'writes acknowledged before the kill');
    const c = await connect(w.standby.port);
    try {
      assert.equal((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, false);
      const have = await c.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE id = ANY($1::bigint[])', [acked]);
      assert.equal(Number(have.rows[0]!.n), acked.length, `acknowledged writes lost: ${acked.length - Number(have.rows[0]!.n)}`);
      await c.query('INSERT INTO orders DEFAULT VALUES');
    } finally {
      await c.end();
    }
    assert.ok(after.every((x) => Number(x.id) > oldMaxId), `the writes after the failover are not on the old primary (its highest id ${oldMaxId})`);
    // Started again after the failover, it still refuses writes (and failback must re-seed it, running).
    w.restartPrimary();
    await assertRefusesWrites(w.primary.port);

    // DNS as the server itself answers, and the app behind it.
    assert.deepEqual(w.pdns.dig(DNS_NAME), [w.addresses.ams]);
    assert.deepEqual(r.dnsAnswer, [w.addresses.ams]);
    const a = await httpGet(new URL(`http://${w.addresses.ams}:${w.appPort}/`), 2000, `app.example.test:${w.appPort}`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-app-version'], 'v1');
    assert.match(r.steps.find((s) => s.step === 'smoke')!.summary, new RegExp(`requests to ${w.addresses.ams.replace(/\./g, '\\.')}: 0 failed`));

    // Incident: a page (PagerDuty Events v2), resolved once failed over; Slack messages.
    const pages = w.pages as { routing_key: string; event_action: string; dedup_key: string; payload?: { severity: string } }[];
    assert.deepEqual(pages.map((p) => p.event_action), ['trigger', 'resolve']);
    assert.ok(pages.every((p) => p.routing_key === 'R0UTINGKEY' && p.dedup_key === pages[0]!.dedup_key));
    assert.equal(pages[0]!.payload?.severity, 'critical');
    const texts = w.slack.messages().map((m) => m.text);
    assert.ok(texts.some((t) => t.includes('incident') && t.includes('fra')), texts.join('\n'));
    assert.ok(texts.some((t) => t.includes('failover of shop done')), texts.join('\n'));

    // The CLI tells the same.
    const status = await w.cutover(['failover', 'status', SITE, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { failover: { phase: string; promoted: boolean }; url: string };
    assert.equal(report.failover.phase, 'done');
    assert.match(report.url, /namespaces\/default\/workflows\/failover%2Fshop%2Fincident-/);
    // Failback: fra is re-seeded from ams, catches up, and takes over again with everything.
    const back = await w.cutover(['failback', SITE, '--wait', '--json', '--key', 'back1']);
    assert.equal(back.code, 0, back.stderr);
    const fb = (JSON.parse(back.stdout) as { result: FailbackResult }).result;
    assert.equal(fb.reseeded, true);
    assert.equal(fb.failover.from, 'ams');
    assert.equal(fb.failover.to, 'fra');
    assert.equal(fb.failover.phase, 'done');
    assert.deepEqual(w.pdns.dig(DNS_NAME), [w.addresses.fra]);
    await assert.rejects(connect(w.standby.port), 'ams is fenced now');
    const f = await connect(w.primary.port);
    try {
      assert.equal((await f.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, false);
      const all = await f.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE id = ANY($1::bigint[])', [acked]);
      assert.equal(Number(all.rows[0]!.n), acked.length, 'every acknowledged write came back');
    } finally {
      await f.end();
    }
    console.log(
      `failover figures: RTO ${r.rtoMs} ms (kill → result ${rtoMs} ms), steps ${r.steps.map((s) => `${s.step} ${s.ms} ms`).join(', ')}; ` +
        `HTTP load through the DNS name: ${loadStats.sent} requests, ${loadStats.failed} failed, ${acked.length} writes acknowledged (${after.length} after the DNS change), lost 0; ` +
        `failback RTO ${fb.failover.rtoMs} ms after ${fb.catchUpMs} ms catch-up`,
    );
  });

  test('lag above the gate is refused (exit 4, fence undone); --accept-data-loss promotes and reports the RPO', { timeout: 600_000 }, async () => {
    const w = await startDrWorld('dr-lag', { auto: false });
    worlds.push(w);
    // Nothing to confirm or abort yet, and an unknown site: bad input (2), with the reason.
    const confirm = await w.cutover(['failover', 'confirm', SITE, '--json']);
    assert.equal(confirm.code, 2, confirm.stderr);
    assert.match(confirm.stderr, /monitor\/shop is not running/);
    const abort = await w.cutover(['failover', 'abort', SITE]);
    assert.equal(abort.code, 2, abort.stderr);
    assert.match(abort.stderr, /no failover of shop is running; nothing to abort/);
    const unknown = await w.cutover(['failover', 'start', 'nosuch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /sites\.nosuch: no such site \(known: shop\)/);
    w.standby.sql('SELECT pg_wal_replay_pause()');
    w.primary.sql('INSERT INTO orders SELECT FROM generate_series(1, 5000)');

    const refused = await w.cutover(['failover', 'start', SITE, '--wait', '--json', '--key', 'lag1']);
    assert.equal(refused.code, 4, refused.stderr);
    const rr = JSON.parse(refused.stdout) as { failureType: string; error: string; url: string };
    assert.equal(rr.failureType, 'FailoverLagTooHigh');
    assert.match(rr.error, /ams is \d+ bytes behind|ams is [\d.]+ MiB behind/);
    assert.match(rr.url, /failover%2Fshop%2Flag1/);
    // The undo started the old primary again; the standby was not promoted.
    const c = await eventually('the old primary back', () => connect(w.primary.port));
    assert.equal((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r, false);
    await c.end();
    assert.equal(w.standby.sql('SELECT pg_is_in_recovery()'), 't');
    assert.deepEqual(w.pdns.dig(DNS_NAME), [w.addresses.fra]);

    const forced = await w.cutover(['failover', 'start', SITE, '--wait', '--json', '--key', 'lag2', '--accept-data-loss', '--reason', 'region gone']);
    assert.equal(forced.code, 0, forced.stderr);
    const r = (JSON.parse(forced.stdout) as { result: FailoverResult }).result;
    assert.ok((r.rpo?.bytes ?? 0) > 0, `RPO estimate: ${JSON.stringify(r.rpo)}`);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /data loss accepted/);
    assert.equal(w.standby.sql('SELECT pg_is_in_recovery()'), 'f');
    assert.deepEqual(w.pdns.dig(DNS_NAME), [w.addresses.ams]);
    await assert.rejects(connect(w.primary.port));
  });

  test('confirmed with the Slack button (forged, stale, unmapped and non-confirmer clicks change nothing), a Vultr standby: instances created from the snapshot (one create lost half-way, no duplicate), DNS gets their IPs, smoke passes through them', { timeout: 600_000 }, async () => {
    const w = await startDrWorld('dr-vultr', { auto: false, vultr: { count: 2 } });
    worlds.push(w);
    w.vultr!.failNextCreate();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/slack/events`;
    let gatewayLog = '';
    const gateway = spawn(join(__dirname, '..', '..', 'bin', 'cutover'), ['-c', w.configFile, 'slack-gateway'], {
      env: { ...process.env, SLACK_SIGNING_SECRET: SECRET, CUTOVER_GATEWAY_PORT: String(port), SLACK_BOT_TOKEN: w.slack.token, SLACK_API_URL: w.slack.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worlds.push({ stop: async () => void gateway.kill('SIGKILL') });
    gateway.stdout.on('data', (d: Buffer) => (gatewayLog += d.toString()));
    gateway.stderr.on('data', (d: Buffer) => (gatewayLog += d.toString()));
    const started = await w.cutover(['failover', 'monitor', SITE, '--json']);
    assert.equal(started.code, 0, started.stderr);
    const monitor = w.client.workflow.getHandle(monitorWorkflowId(SITE));
    await eventually('a good probe', async () => ((await monitor.query(monitorStateQuery)).lastProbe?.ok ? true : undefined));
    await eventually('the gateway listens', async () => (gatewayLog.includes('listening') ? true : undefined), 60_000);

    // fra's app dies: the incident's Slack message carries the button.
    execFileSync(`${w.fra.root}/bin/slot`, ['stop', 'blue']);
    await eventually('the incident', async () => ((await monitor.query(monitorStateQuery)).phase === 'incident' ? true : undefined));
    const message = await eventually('the Confirm failover button', async () =>
      w.slack.calls().some((c) => c.method === 'chat.postMessage' && JSON.stringify(c.body).includes('cutover_confirm_failover')) ? w.slack.messages().find((m) => m.text.includes('Confirm here')) : undefined,
    );
    const phase = async (): Promise<string> => (await monitor.query(monitorStateQuery)).phase;
    const bob = confirmClick('U0BOB', monitorWorkflowId(SITE), message.channel, message.ts);
    assert.equal((await fetch(url, { method: 'POST', body: bob, headers: signed(bob, undefined, 'not-the-secret') })).status, 401, 'a forged signature is refused');
    assert.equal((await fetch(url, { method: 'POST', body: bob, headers: signed(bob, Math.floor(Date.now() / 1000) - 6 * 60) })).status, 401, 'a stale request is refused');
    for (const user of ['U0EVE', 'U0CAROL']) {
      const c = confirmClick(user, monitorWorkflowId(SITE), message.channel, message.ts);
      assert.equal((await fetch(url, { method: 'POST', body: c, headers: signed(c) })).status, 200);
    }
    await eventually('carol refused', async () => (/confirm of monitor\/shop by carol: refused: carol may not confirm a failover of shop \(confirmers: bob, alice\)/.test(gatewayLog) ? true : undefined));
    assert.match(gatewayLog, /confirm of monitor\/shop by U0EVE: refused: Slack user U0EVE is not mapped/);
    assert.equal(await phase(), 'incident', 'nothing changed by forged, stale, unmapped or unallowed clicks');
    assert.equal((await fetch(url, { method: 'POST', body: bob, headers: signed(bob) })).status, 200);
    const result = (await monitor.result()) as FailoverResult;
    assert.match(gatewayLog, /confirm of monitor\/shop by bob: failing over/);
    assert.ok(w.slack.messages().find((m) => m.ts === message.ts)?.updates.some((u) => u.includes('failover confirmed by bob')), 'the message is updated in place');
    const instances = w.vultr!.instances();
    assert.deepEqual(instances.map((i) => i.label).sort(), ['ams-app-1', 'ams-app-2'], 'no duplicated server after the lost create');
    const ips = instances.map((i) => i.main_ip).sort();
    assert.deepEqual(ips, ['127.0.0.51', '127.0.0.52']);
    assert.deepEqual(w.pdns.dig(DNS_NAME), ips);
    assert.deepEqual(result.dnsAnswer, ips);
    assert.equal(result.phase, 'done');
    assert.match(result.steps.find((s) => s.step === 'scale')!.summary, /Vultr instance\(s\) created/);
    assert.match(result.steps.find((s) => s.step === 'smoke')!.summary, /requests to 127\.0\.0\.51, 127\.0\.0\.52: 0 failed/);
    assert.equal(w.standby.sql('SELECT pg_is_in_recovery()'), 'f');
    assert.equal(w.vultr!.calls.filter((c) => c === 'POST /v2/instances').length, 2, `the lost create was not repeated: ${w.vultr!.calls.join(', ')}`);
  });
});
