// The audit log's pure parts: the SQL it sends (values always as parameters), paging, CSV,
// the times `cutover audit` reads, and the config section.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { insertEvents, purgeBatch, selectEvents } from '../../activities/audit/queries';
import { describeDatabase } from '../../activities/audit/store';
import { auditSchema } from '../../config/schema';
import type { AuditEvent } from '../../contract/audit';
import { csvLine, parseWhen, type AuditRow } from '../../starters/audit';
import { main } from '../../starters/cli';
import { retentionDaysFromEnv } from '../../workers/audit';

const event = (n: number, p: Partial<AuditEvent> = {}): AuditEvent => ({
  id: `deploy/shop/prod/k:run:${n}`,
  at: Date.UTC(2026, 10, 23, 2, 0, n),
  app: 'shop',
  env: 'prod',
  operation: 'deploy',
  operationId: 'deploy/shop/prod/k',
  action: 'step',
  actor: 'alice',
  version: 'v2',
  approvers: [],
  outcome: null,
  message: `step ${n}`,
  detail: { phase: 'switching' },
  ...p,
});

describe('audit SQL', () => {
  test('a batch is one INSERT with numbered parameters that skips ids already written', () => {
    const q = insertEvents([event(1), event(2, { approvers: ['bob'], detail: { comment: "it's fine; DROP TABLE x" } })]);
    assert.match(q.text, /^INSERT INTO cutover_audit_events \(id, at, .*\) VALUES \(\$1, .*\$13\), \(\$14, .*\$26\) ON CONFLICT \(id\) DO NOTHING$/);
    assert.equal(q.values.length, 26);
    assert.equal(q.values[13], 'deploy/shop/prod/k:run:2');
    assert.equal(q.values[14], '2026-11-23T02:00:02.000Z');
    assert.deepEqual(q.values[22], ['bob']);
    assert.equal(q.values[25], JSON.stringify({ comment: "it's fine; DROP TABLE x" }));
    assert.ok(!q.text.includes('DROP'), 'values never reach the SQL text');
  });

  test('filters become parameters; the actor is who acted (an approver in their approvals); pages continue after (at, id)', () => {
    const q = selectEvents({ app: 'shop', env: 'prod', actor: 'bob', since: new Date('2026-11-01T00:00:00Z') }, 500, { at: new Date('2026-11-23T02:00:00Z'), id: 'x:1' });
    assert.equal(
      q.text,
      'SELECT id, at, app, env, operation, operation_id, action, actor, version, approvers, outcome, message, detail FROM cutover_audit_events WHERE app = $1 AND env = $2 AND actor = $3 AND at >= $4 AND (at, id) > ($5, $6) ORDER BY at, id LIMIT $7',
    );
    assert.deepEqual(q.values, ['shop', 'prod', 'bob', '2026-11-01T00:00:00.000Z', '2026-11-23T02:00:00.000Z', 'x:1', 500]);
    assert.equal(selectEvents({}, 10).text.includes('WHERE'), false);
  });

  test('the purge deletes one bounded batch of old events at a time', () => {
    const q = purgeBatch(new Date('2026-09-01T00:00:00Z'), 5000);
    assert.match(q.text, /DELETE FROM cutover_audit_events WHERE id IN \(SELECT id .* WHERE at < \$1 ORDER BY at LIMIT \$2\)/);
    assert.deepEqual(q.values, ['2026-09-01T00:00:00.000Z', 5000]);
  });
});

describe('cutover audit', () => {
  test('CSV quotes what needs it and writes arrays and JSON in one cell', () => {
    const row: AuditRow = { ...event(1), at: new Date(Date.UTC(2026, 10, 23)), operation_id: 'deploy/shop/prod/k', approvers: ['bob', 'carol'], message: 'said "no", then yes', detail: { a: 1 } };
    assert.equal(csvLine(row), '2026-11-23T00:00:00.000Z,shop,prod,deploy,deploy/shop/prod/k,step,alice,v2,bob carol,,"said ""no"", then yes","{""a"":1}",deploy/shop/prod/k:run:1');
  });

  test('times: relative, a day, a local time in a zone, ISO; nonsense is undefined', () => {
    const now = Date.UTC(2026, 11, 2, 12, 0);
    assert.equal(parseWhen('7d', now)?.toISOString(), '2026-11-25T12:00:00.000Z');
    assert.equal(parseWhen('90m', now)?.toISOString(), '2026-12-02T10:30:00.000Z');
    assert.equal(parseWhen('2026-11-23', now, 'UTC')?.toISOString(), '2026-11-23T00:00:00.000Z');
    assert.equal(parseWhen('2026-11-23 14:00 Europe/Berlin', now)?.toISOString(), '2026-11-23T13:00:00.000Z');
    assert.equal(parseWhen('2026-11-23T14:00:00Z', now)?.toISOString(), '2026-11-23T14:00:00.000Z');
    assert.equal(parseWhen('last tuesday', now), undefined);
  });

  test('bad options are refused with exit 2 before anything is read', async () => {
    const lines: string[] = [];
    const io = { stdout: (l: string) => lines.push(l), stderr: (l: string) => lines.push(l), env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, now: () => new Date(), random: () => 'abc', sleep: async () => {} };
    assert.equal(await main(['audit', '--format', 'xml'], io), 2);
    assert.match(lines.join('\n'), /--format: table, json or csv/);
    assert.equal(await main(['audit', '--since', 'last tuesday'], io), 2);
    assert.match(lines.join('\n'), /--since: "last tuesday" is not a time/);
    assert.equal(await main(['audit', '--since', '1d', '--until', '2d'], io), 2);
    assert.match(lines.join('\n'), /--until must be after --since/);
    assert.equal(await main(['audit', '--action', 'deleted'], io), 2);
    assert.equal(await main(['audit', '--limit', '0'], io), 2);
  });

  test('an unreachable database is exit 3, naming where without the password', async () => {
    const lines: string[] = [];
    const io = { stdout: (l: string) => lines.push(l), stderr: (l: string) => lines.push(l), env: { DATABASE_URL: 'postgres://cutover:s3cret@127.0.0.1:1/audit' }, now: () => new Date(), random: () => 'abc', sleep: async () => {} };
    assert.equal(await main(['audit'], io), 3);
    assert.match(lines.join('\n'), /cannot reach the audit database at postgres:\/\/cutover@127\.0\.0\.1:1\/audit/);
    assert.ok(!lines.join('\n').includes('s3cret'));
    assert.equal(describeDatabase('nonsense'), 'DATABASE_URL (not a URL)');
  });
});

describe('audit settings', () => {
  test('audit.databaseUrl must be a PostgreSQL URL without a password', () => {
    assert.equal(auditSchema.safeParse({ databaseUrl: 'postgres://cutover@db:5432/cutover' }).success, true);
    const withPassword = auditSchema.safeParse({ databaseUrl: 'postgres://cutover:hunter2@db/cutover' });
    assert.equal(withPassword.success, false);
    assert.match(JSON.stringify(withPassword.error?.issues), /holds a password: remove it and set PGPASSWORD/);
    assert.equal(auditSchema.safeParse({ databaseUrl: 'mysql://db' }).success, false);
  });

  test('the retention is whole days, 90 by default', () => {
    assert.equal(retentionDaysFromEnv({}), 90);
    assert.equal(retentionDaysFromEnv({ CUTOVER_AUDIT_RETENTION_DAYS: '30' }), 30);
    assert.throws(() => retentionDaysFromEnv({ CUTOVER_AUDIT_RETENTION_DAYS: '2w' }), /CUTOVER_AUDIT_RETENTION_DAYS: expected whole days/);
  });
});
