// `npm run bench:audit [-- --events N --repeats R]`: how fast `cutover audit` answers on a large
// audit log. A real PostgreSQL 15 on loopback gets the worker's migrations and N events (default
// 100,000: 200 deploys a day over 90 days, 3 apps × 3 environments, 6 people) written by the
// activity's own INSERT builder, then the real CLI process (bin/cutover, compiled) runs the
// exports people run, R times each: process start to exit, with the rows it printed. Also the
// query plans, to show each filter uses an index. Results: bench/results/audit-*.json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { migrate } from '../activities/audit/migrate';
import { insertEvents, selectEvents, type AuditFilter } from '../activities/audit/queries';
import { AUDIT_ACTIONS, type AuditEvent } from '../contract/audit';
import { startPostgres } from '../sandbox/postgres';
import { intArg, REPO, round, summary, table, writeResults } from './common';

const EVENTS = intArg('events', 100_000, 2_000_000);
const REPEATS = intArg('repeats', 5, 50);
const BIN = join(REPO, 'bin', 'cutover');
const DAY = 86_400_000;

function* events(n: number, now: number): Generator<AuditEvent> {
  const apps = ['shop', 'billing', 'search'];
  const envs = ['prod', 'staging', 'dev'];
  const people = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  for (let i = 0; i < n; i++) {
    const op = Math.floor(i / 10);
    const app = apps[op % 3]!;
    const env = envs[Math.floor(op / 3) % 3]!;
    yield {
      id: `deploy/${app}/${env}/bench-${op}:run:${i % 10}`,
      at: now - 90 * DAY + Math.floor((i / n) * 90 * DAY),
      app,
      env,
      operation: 'deploy',
      operationId: `deploy/${app}/${env}/bench-${op}`,
      action: AUDIT_ACTIONS[i % AUDIT_ACTIONS.length]!,
      actor: people[(op + (i % 10 === 3 ? 1 : 0)) % people.length]!,
      version: `v${op}`,
      approvers: i % 10 >= 7 ? [people[(op + 1) % people.length]!] : [],
      outcome: i % 10 === 9 ? 'succeeded' : null,
      message: `event ${i % 10} of deploy ${op}`,
      detail: { phase: 'switching', host: `web${i % 2}` },
    };
  }
}

function timeCli(args: string[], env: NodeJS.ProcessEnv): { ms: number; lines: number } {
  const t0 = performance.now();
  const out = execFileSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  return { ms: performance.now() - t0, lines: out.length === 0 ? 0 : out.trimEnd().split('\n').length };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-bench-audit-'));
  const pg = await startPostgres({ dir: join(dir, 'pg') });
  const loadAtStart = loadavg().map((l) => round(l, 2));
  try {
    const pool = new Pool({ connectionString: pg.url(), max: 2 });
    await migrate(pool);
    const now = Date.now();
    const t0 = performance.now();
    let batch: AuditEvent[] = [];
    for (const e of events(EVENTS, now)) {
      batch.push(e);
      if (batch.length === 1000) {
        await pool.query(insertEvents(batch));
        batch = [];
      }
    }
    if (batch.length) await pool.query(insertEvents(batch));
    await pool.query('ANALYZE cutover_audit_events');
    const loadMs = performance.now() - t0;
    const size = (await pool.query<{ s: string }>(`SELECT pg_size_pretty(pg_total_relation_size('cutover_audit_events')) AS s`)).rows[0]!.s;
    const env = { DATABASE_URL: pg.url() };
    const cases: { name: string; args: string[] }[] = [
      { name: 'one environment, last 7 days (table)', args: ['audit', '--app', 'shop', '--env', 'prod', '--since', '7d'] },
      { name: 'one person, last 30 days (table)', args: ['audit', '--actor', 'carol', '--since', '30d'] },
      { name: 'one deploy (table)', args: ['audit', '--deploy', 'deploy/shop/prod/bench-4500'] },
      { name: 'approvals, last 90 days (csv)', args: ['audit', '--action', 'approved', '--format', 'csv'] },
      { name: `everything, ${EVENTS} events (csv)`, args: ['audit', '--format', 'csv'] },
      { name: `everything, ${EVENTS} events (json)`, args: ['audit', '--format', 'json'] },
    ];
    const results = [];
    for (const c of cases) {
      timeCli(c.args, env); // warm-up: page cache, compiled CLI
      const runs = Array.from({ length: REPEATS }, () => timeCli(c.args, env));
      results.push({ name: c.name, args: c.args, rows: runs[0]!.lines, ms: summary(runs.map((r) => round(r.ms))) });
      console.log(`${c.name}: ${round(summary(runs.map((r) => r.ms)).p50)} ms (p50 of ${REPEATS}), ${runs[0]!.lines} lines`);
    }
    const plans: Record<string, string> = {};
    const filters: [string, AuditFilter][] = [
      ['app+env+since', { app: 'shop', env: 'prod', since: new Date(now - 7 * DAY) }],
      ['actor+since', { actor: 'carol', since: new Date(now - 30 * DAY) }],
      ['deploy', { operation: 'deploy/shop/prod/bench-4500' }],
      ['action', { action: 'approved' }],
    ];
    for (const [name, filter] of filters) {
      // The CLI's own query, first page and a later one.
      const q = selectEvents(filter, 5000, { at: new Date(now - 60 * DAY), id: '' });
      plans[name] = (await pool.query<{ 'QUERY PLAN': string }>({ text: `EXPLAIN ${q.text}`, values: q.values })).rows.map((r) => r['QUERY PLAN']).join('\n');
    }
    await pool.end();
    const result = {
      benchmark: 'audit',
      at: new Date().toISOString(),
      machine: { cores: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((l) => round(l, 2)) },
      settings: { events: EVENTS, repeats: REPEATS, postgres: pg.sql('SHOW server_version'), tableSize: size },
      loadEventsMs: round(loadMs),
      exports: results,
      plans,
      notes: 'ms = the real CLI process (bin/cutover, compiled) from spawn to exit, printing to a pipe; rows = lines printed (csv: + header; json: + brackets). Warm page cache (one warm-up run per case).',
    };
    const file = writeResults('audit', result);
    console.log(table([['export', 'rows', 'p50 ms', 'min', 'max'], ...results.map((r) => [r.name, r.rows, r.ms.p50, r.ms.min, r.ms.max])]));
    console.log(`\nresults: ${file}`);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
