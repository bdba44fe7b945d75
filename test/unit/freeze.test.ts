// Freeze window arithmetic across daylight-saving changes (Europe/Berlin, America/New_York),
// windows crossing the new year, chained windows, the config's freeze errors, `--at` and the
// version a recurring deploy reads from its source.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DateTime } from 'luxon';
import { activeFreeze, addWallClock, upcoming } from '../../activities/freeze/calendar';
import { versionFromOutput } from '../../activities/version-source/version';
import { ConfigError, parseConfig, resolvePlan } from '../../config/load';
import { parseVersionSource, type FreezeWindow } from '../../contract';
import { CliError } from '../../starters/output';
import { parseAt } from '../../starters/when';

const at = (iso: string, zone: string): number => DateTime.fromISO(iso, { zone }).toMillis();
const recurring = (cron: string, hours: number, timezone: string, name = 'w'): FreezeWindow => ({ kind: 'recurring', name, cron, durationMs: hours * 3_600_000, timezone });
const oneOff = (from: string, to: string, timezone: string, name = 'once'): FreezeWindow => ({ kind: 'oneOff', name, from, to, timezone });

describe('freeze windows across daylight-saving changes', () => {
  const weekendBerlin = recurring('0 18 * * FRI', 62, 'Europe/Berlin', 'weekend');
  const weekendNewYork = recurring('0 18 * * FRI', 62, 'America/New_York', 'weekend');

  test('the weekend freeze ends Monday 08:00 local, also over the spring-forward and fall-back weekends', () => {
    for (const [window, zone, friday, monday] of [
      [weekendBerlin, 'Europe/Berlin', '2026-03-27', '2026-03-30'], // clocks go forward Sun 29 Mar
      [weekendBerlin, 'Europe/Berlin', '2026-10-23', '2026-10-26'], // clocks go back Sun 25 Oct
      [weekendNewYork, 'America/New_York', '2026-03-06', '2026-03-09'], // forward Sun 8 Mar
      [weekendNewYork, 'America/New_York', '2026-10-30', '2026-11-02'], // back Sun 1 Nov
    ] as const) {
      const sunday = DateTime.fromISO(`${friday}T18:00`, { zone }).plus({ days: 2 }).toMillis();
      const f = activeFreeze([window], sunday);
      assert.ok(f, `${zone} ${friday}: frozen on Sunday`);
      assert.equal(f.endsAt, at(`${monday}T08:00`, zone), `${zone} ${friday}`);
      assert.match(f.endsText, new RegExp(`^Mon \\d+ \\w+ 2026 08:00 ${zone}$`));
      assert.equal(activeFreeze([window], at(`${friday}T17:59`, zone)), null, 'open at 17:59 on Friday');
      assert.ok(activeFreeze([window], at(`${friday}T18:00`, zone)), 'closed at 18:00 on Friday');
      assert.equal(activeFreeze([window], at(`${monday}T08:00`, zone)), null, 'open again at 08:00 on Monday');
    }
  });

  test('a window opening at 02:30 local on the spring-forward day opens at 03:00, the first time that exists', () => {
    for (const [zone, day] of [
      ['Europe/Berlin', '2026-03-29'],
      ['America/New_York', '2026-03-08'],
    ] as const) {
      const w = recurring('30 2 * * *', 1, zone);
      const opens = upcoming([w], at(`${day}T00:00`, zone), 1)[0]!;
      assert.equal(opens.startsAt, at(`${day}T03:00`, zone), `${zone}: ${opens.startsText}`);
      assert.equal(opens.endsAt, at(`${day}T04:00`, zone));
      assert.equal(activeFreeze([w], at(`${day}T02:45`, zone) /* does not exist: Luxon reads 03:45 */)?.endsAt, at(`${day}T04:00`, zone));
    }
  });

  test('a window opening at 02:30 local on the fall-back day opens once, at the first 02:30, and ends 03:30 local', () => {
    for (const [zone, day, firstOffset] of [
      ['Europe/Berlin', '2026-10-25', '+02:00'],
      ['America/New_York', '2026-11-01', '-04:00'],
    ] as const) {
      // New York repeats 01:00-02:00, not 02:30; Berlin repeats 02:00-03:00.
      const w = recurring('30 2 * * *', 1, zone);
      const list = upcoming([w], at(`${day}T00:00`, zone), 2);
      assert.equal(list[0]!.startsAt, DateTime.fromISO(`${day}T02:30${zone === 'Europe/Berlin' ? firstOffset : '-05:00'}`).toMillis(), `${zone}: ${list[0]!.startsText}`);
      assert.equal(list[0]!.endsAt, at(`${day}T03:30`, zone));
      assert.equal(list[1]!.startsAt - list[0]!.startsAt >= 23 * 3_600_000, true, 'the next opening is the next day, not the repeated hour');
    }
  });

  test('wall-clock durations: 62 h from Friday 18:00 is Monday 08:00 even when the weekend has 61 or 63 hours', () => {
    const spring = addWallClock(at('2026-03-27T18:00', 'Europe/Berlin'), 62 * 3_600_000, 'Europe/Berlin');
    assert.equal(spring - at('2026-03-27T18:00', 'Europe/Berlin'), 61 * 3_600_000);
    const fall = addWallClock(at('2026-10-23T18:00', 'Europe/Berlin'), 62 * 3_600_000, 'Europe/Berlin');
    assert.equal(fall - at('2026-10-23T18:00', 'Europe/Berlin'), 63 * 3_600_000);
  });
});

describe('one-off windows and chains', () => {
  const yearEnd = oneOff('2026-12-20 00:00', '2027-01-04 08:00', 'America/New_York', 'year-end');

  test('a year-end window crosses the new year and ends at its local time', () => {
    assert.equal(activeFreeze([yearEnd], at('2026-12-19T23:59', 'America/New_York')), null);
    for (const t of ['2026-12-20T00:00', '2026-12-31T23:59', '2027-01-01T00:00', '2027-01-04T07:59']) {
      assert.equal(activeFreeze([yearEnd], at(t, 'America/New_York'))?.endsText, 'Mon 4 Jan 2027 08:00 America/New_York', t);
    }
    assert.equal(activeFreeze([yearEnd], at('2027-01-04T08:00', 'America/New_York')), null);
  });

  test('windows that touch or overlap are one freeze, ending when the last one ends', () => {
    const weekend = recurring('0 18 * * FRI', 62, 'Europe/Berlin', 'weekend');
    const f = activeFreeze([weekend, yearEnd], at('2026-12-19T10:00', 'Europe/Berlin'));
    assert.deepEqual(f?.windows, ['weekend', 'year-end']);
    assert.equal(f?.endsAt, at('2027-01-04T08:00', 'America/New_York'));
    const list = upcoming([weekend, yearEnd], at('2026-12-02T00:00', 'UTC'), 4);
    assert.deepEqual(list.map((o) => o.window), ['weekend', 'weekend', 'weekend', 'year-end']);
    assert.equal(list[0]!.startsText, 'Fri 4 Dec 2026 18:00 Europe/Berlin');
  });
});

describe('freeze windows in cutover.yml', () => {
  const env = [
    'apps:',
    '  shop:',
    '    environments:',
    '      prod:',
    '        hosts: [{ name: h, address: 127.0.0.1, user: u, privateKeyPath: /k, hostKey: "SHA256:abc" }]',
    '        slots: { blue: { port: 1 }, green: { port: 2 }, start: "go {{version}}", stop: stop }',
    '        router: { nginx: { upstreamFile: /etc/x.conf } }',
  ].join('\n');
  const errorsOf = (text: string): string[] => {
    try {
      parseConfig(text);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.format().split('\n');
    }
    return assert.fail('expected a ConfigError');
  };

  test('global and per-environment windows reach the plan with what a deploy does in one', () => {
    const config = parseConfig(
      `freezes:\n  - { name: weekend, cron: "0 18 * * FRI", duration: 62h, timezone: Europe/Berlin }\n${env}\n        onFreeze: wait\n        breakGlass: { approvers: [bob] }\n        scheduleNotice: 5m\n        freezes:\n          - { name: year-end, from: "2026-12-20 00:00", to: "2027-01-04 08:00", timezone: America/New_York }\n`,
    );
    const plan = resolvePlan(config, 'shop', 'prod');
    assert.deepEqual(plan.freeze, {
      onFreeze: 'wait',
      breakGlassApprovers: ['bob'],
      windows: [
        { kind: 'recurring', name: 'weekend', timezone: 'Europe/Berlin', cron: '0 18 * * FRI', durationMs: 62 * 3_600_000 },
        { kind: 'oneOff', name: 'year-end', timezone: 'America/New_York', from: '2026-12-20 00:00', to: '2027-01-04 08:00' },
      ],
    });
    assert.equal(plan.scheduleNoticeMs, 5 * 60_000);
    assert.equal(resolvePlan(parseConfig(env), 'shop', 'prod').freeze, undefined, 'no windows, no policy');
  });

  test('a bad cron, an unknown time zone, `to` before `from` and a half window are named with their place and fix', () => {
    assert.deepEqual(errorsOf(`freezes:\n  - { name: w, cron: "0 25 * * FRI", duration: 2h, timezone: Europe/Berlin }\n${env}`), [
      'cutover.yml: freezes[0].cron: not a cron expression (CronPattern: Invalid value for hour: 25); five fields: minute hour day-of-month month day-of-week, e.g. "0 18 * * FRI"',
    ]);
    assert.deepEqual(errorsOf(`freezes:\n  - { name: w, cron: "0 18 * * FRI", duration: 2h, timezone: Europe/Berlyn }\n${env}`), [
      'cutover.yml: freezes[0].timezone: unknown time zone; use an IANA name like Europe/Berlin or America/New_York',
    ]);
    assert.deepEqual(errorsOf(`${env}\n        freezes: [{ name: y, from: "2027-01-04 08:00", to: "2026-12-20 00:00", timezone: UTC }]\n`), [
      'cutover.yml: apps.shop.environments.prod.freezes[0].to: 2026-12-20 00:00 is not after from (2027-01-04 08:00); the window must end after it starts',
    ]);
    assert.deepEqual(errorsOf(`${env}\n        freezes: [{ name: y, from: "20 Dec", to: "2026-12-21 00:00", timezone: UTC }]\n`), [
      'cutover.yml: apps.shop.environments.prod.freezes[0].from: "20 Dec" is not a local time; write "YYYY-MM-DD HH:MM", e.g. "2026-12-20 00:00"',
    ]);
    assert.deepEqual(errorsOf(`freezes:\n  - { name: w, cron: "0 18 * * FRI", timezone: UTC }\n${env}`), ['cutover.yml: freezes[0].duration: missing; how long the window stays closed, e.g. 62h']);
    assert.match(errorsOf(`freezes:\n  - { name: w, cron: "0 18 * * FRI", duration: 1h, from: "2026-12-20 00:00", timezone: UTC }\n${env}`)[0]!, /freezes\[0\]: give either cron and duration .* or from and to/);
    assert.deepEqual(errorsOf(`${env}\n        onFreeze: later\n`), ['cutover.yml: apps.shop.environments.prod.onFreeze: expected one of "wait", "reject", got "later"']);
  });
});

describe('--at and version sources', () => {
  const now = Date.parse('2026-11-20T12:00:00Z');

  test('--at reads a local time in a named zone, this machine\'s zone, or ISO 8601', () => {
    assert.deepEqual(parseAt('2026-11-23 02:00 Europe/Berlin', now), { at: Date.parse('2026-11-23T01:00:00Z'), text: 'Mon 23 Nov 2026 02:00 Europe/Berlin' });
    assert.equal(parseAt('2026-11-23 02:00', now, 'America/New_York').at, Date.parse('2026-11-23T07:00:00Z'));
    assert.equal(parseAt('2026-11-23T02:00:00+01:00', now).at, Date.parse('2026-11-23T01:00:00Z'));
    for (const [text, why] of [
      ['tomorrow', /is not a time/],
      ['2026-11-23 02:00 Mars/Olympus', /unknown time zone "Mars\/Olympus"/],
      ['2026-11-19 02:00 UTC', /is in the past/],
    ] as const) {
      assert.throws(() => parseAt(text, now), (e: unknown) => e instanceof CliError && e.exitCode === 2 && why.test(e.message), text);
    }
  });

  test('a version source: a command on the first host or a URL; what it prints must be a safe version', () => {
    assert.deepEqual(parseVersionSource('command:readlink /srv/shop/releases/latest'), { kind: 'command', command: 'readlink /srv/shop/releases/latest' });
    assert.deepEqual(parseVersionSource('https://releases.example/shop/latest'), { kind: 'url', url: 'https://releases.example/shop/latest' });
    assert.equal(parseVersionSource('ftp://x'), undefined);
    assert.equal(parseVersionSource('command:  '), undefined);
    assert.equal(versionFromOutput('/srv/shop/releases/v3\n'), 'v3');
    assert.equal(versionFromOutput('warming up\n2026.11.20-1\n\n'), '2026.11.20-1');
    for (const bad of ['', '\n', '/srv/shop/releases/..', 'v3; rm -rf /', '-rf', '$(id)']) assert.equal(versionFromOutput(bad), undefined, JSON.stringify(bad));
  });
});
