// `cutover audit`: the audit log, read straight from PostgreSQL (DATABASE_URL, or `audit.databaseUrl`
// in cutover.yml with the password in PGPASSWORD), filtered, as a table, JSON or CSV. Pages by
// (time, id) so 100,000 events stream at a constant cost per page.
import { DateTime } from 'luxon';
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../contract/audit';
import { parseDuration } from '../config/schema';
import { selectEvents, type AuditFilter, type PageCursor } from '../activities/audit/queries';
import { describeDatabase } from '../activities/audit/store';
import { configPath, loadCliConfig, type GlobalOptions } from './config-file';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';
import { existsSync } from 'node:fs';

const PAGE = 5000;

/** A time as people write it: `7d` / `12h` ago, `2026-11-23`, `2026-11-23 14:00 [Area/City]`, or ISO 8601. */
export function parseWhen(text: string, now: number, localZone = DateTime.local().zoneName ?? 'UTC'): Date | undefined {
  const t = text.trim();
  const ago = /^\d/.test(t) && /[a-z]$/i.test(t) ? parseDuration(t) : undefined;
  if (ago !== undefined) return new Date(now - ago);
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}))?(?:\s+(\S+))?$/.exec(t);
  const dt = m
    ? DateTime.fromFormat(`${m[1]} ${m[2] ?? '00:00'}`, 'yyyy-MM-dd HH:mm', { zone: m[3] ?? localZone })
    : DateTime.fromISO(t, { setZone: true });
  return dt.isValid ? dt.toJSDate() : undefined;
}

const when = (field: string, now: number) =>
  z
    .string()
    .transform((v, ctx) => {
      const d = parseWhen(v, now);
      if (!d) ctx.addIssue({ code: 'custom', message: `${field}: ${JSON.stringify(v)} is not a time; write "7d" (ago), "2026-11-23", "2026-11-23 14:00 Europe/Berlin" or ISO 8601` });
      return d ?? new Date(0);
    })
    .optional();

export const auditOptionsSchema = (now: number) =>
  z
    .strictObject({
      app: z.string().min(1).optional(),
      env: z.string().min(1).optional(),
      actor: z.string().min(1).optional(),
      action: z.enum(AUDIT_ACTIONS, { message: `--action: one of ${AUDIT_ACTIONS.join(', ')}` }).optional(),
      deploy: z.string().min(1).optional(),
      since: when('--since', now),
      until: when('--until', now),
      format: z.enum(['table', 'json', 'csv'], { message: '--format: table, json or csv' }).default('table'),
      limit: z.coerce.number({ message: '--limit: a whole number' }).int().positive({ message: '--limit: more than 0' }).optional(),
      databaseUrl: z.string().regex(/^postgres(ql)?:\/\/\S+$/, { message: '--database-url: expected postgres://user@host:5432/db' }).optional(),
    })
    .refine((o) => !o.since || !o.until || o.since < o.until, { message: '--until must be after --since' });
export type AuditOptions = z.input<ReturnType<typeof auditOptionsSchema>>;

export interface AuditRow {
  id: string;
  at: Date;
  app: string;
  env: string;
  operation: string;
  operation_id: string;
  action: string;
  actor: string | null;
  version: string | null;
  approvers: string[];
  outcome: string | null;
  message: string;
  detail: Record<string, unknown>;
}

const CSV_COLUMNS = ['at', 'app', 'env', 'operation', 'operation_id', 'action', 'actor', 'version', 'approvers', 'outcome', 'message', 'detail', 'id'] as const;

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.join(' ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
export const csvLine = (r: AuditRow): string => CSV_COLUMNS.map((c) => csvCell(r[c])).join(',');

export function tableLine(r: AuditRow): string {
  const who = r.actor ?? '-';
  const extra = r.approvers.length && r.action !== 'approved' ? ` [approved by ${r.approvers.join(', ')}]` : '';
  return `${r.at.toISOString()}  ${`${r.app}/${r.env}`.padEnd(16)} ${r.action.padEnd(17)} ${who.padEnd(12)} ${(r.version ?? '-').padEnd(10)} ${r.message}${extra}`;
}

const asJson = (r: AuditRow) => ({ ...r, at: r.at.toISOString() });

function databaseUrl(opts: { databaseUrl?: string | undefined }, g: GlobalOptions, io: Io): string {
  if (opts.databaseUrl) return opts.databaseUrl;
  if (io.env.DATABASE_URL) return io.env.DATABASE_URL;
  if (existsSync(configPath(g, io.env))) {
    const url = loadCliConfig(g, io).config.audit?.databaseUrl;
    if (url) return url;
  }
  throw new CliError('no audit database: set DATABASE_URL (as the worker has it), audit.databaseUrl in cutover.yml, or --database-url', EXIT.badInput);
}

export async function auditCommand(raw: AuditOptions, g: GlobalOptions, io: Io, out: Output): Promise<Outcome> {
  const parsed = auditOptionsSchema(io.now().getTime()).safeParse(raw);
  if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => i.message).join('; '), EXIT.badInput);
  const o = parsed.data;
  const url = databaseUrl(o, g, io);
  const filter: AuditFilter = {
    ...(o.app ? { app: o.app } : {}),
    ...(o.env ? { env: o.env } : {}),
    ...(o.actor ? { actor: o.actor } : {}),
    ...(o.action ? { action: o.action } : {}),
    ...(o.deploy ? { operation: o.deploy } : {}),
    ...(o.since ? { since: o.since } : {}),
    ...(o.until ? { until: o.until } : {}),
  };
  const { Client } = await import('pg');
  const db = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await db.connect();
  } catch (err) {
    throw new CliError(`cannot reach the audit database at ${describeDatabase(url)}: ${err instanceof Error ? err.message : String(err)}`, EXIT.unreachable);
  }
  const collected: ReturnType<typeof asJson>[] = [];
  const format = out.json ? 'collect' : o.format;
  let count = 0;
  try {
    if (format === 'csv') io.stdout(CSV_COLUMNS.join(','));
    if (format === 'json') io.stdout('[');
    let after: PageCursor | undefined;
    for (;;) {
      const want = o.limit === undefined ? PAGE : Math.min(PAGE, o.limit - count);
      if (want <= 0) break;
      let rows: AuditRow[];
      try {
        rows = (await db.query<AuditRow>(selectEvents(filter, want, after))).rows;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (/cutover_audit_events" does not exist/.test(msg)) throw new CliError(`${describeDatabase(url)} has no audit log yet: a worker with DATABASE_URL creates it at its start`, EXIT.failed);
        throw err;
      }
      const lines: string[] = [];
      for (const r of rows) {
        if (format === 'csv') lines.push(csvLine(r));
        else if (format === 'json') lines.push(`${count > 0 || lines.length > 0 ? ',' : ''}${JSON.stringify(asJson(r))}`);
        else if (format === 'table') lines.push(tableLine(r));
        else collected.push(asJson(r));
      }
      if (lines.length) io.stdout(lines.join('\n'));
      count += rows.length;
      const last = rows.at(-1);
      if (!last || rows.length < want) break;
      after = { at: last.at, id: last.id };
    }
    if (format === 'json') io.stdout(']');
  } finally {
    await db.end().catch(() => undefined);
  }
  if (format === 'table') out.error(`${count} event(s)`);
  return { exitCode: EXIT.ok, report: { count, ...(out.json ? { events: collected } : {}) } };
}
