// Freeze window arithmetic, with croner (cron in a time zone, DST-aware) and Luxon (local
// times and wall-clock durations). Pure: every function takes the instant it reasons about.
import { Cron } from 'croner';
import { DateTime, IANAZone } from 'luxon';
import type { ActiveFreeze, FreezeOccurrence, FreezeWindow } from '../../contract/freeze';

const LOCAL_FORMAT = 'yyyy-MM-dd HH:mm';
/** How many openings of one recurring window are looked at, at most, per question. */
const MAX_OCCURRENCES = 5_000;
/** How many windows can chain one after another into one freeze. */
const MAX_CHAIN = 50;

export interface Interval {
  start: number;
  end: number;
}

export const isValidTimezone = (tz: string): boolean => IANAZone.isValidZone(tz);

/** `2026-12-20 00:00` in `tz` → ms since epoch; undefined when it is not such a time. */
export function parseLocalTime(text: string, tz: string): number | undefined {
  const dt = DateTime.fromFormat(text.trim(), LOCAL_FORMAT, { zone: tz });
  return dt.isValid ? dt.toMillis() : undefined;
}

/** The cron's first problem (croner's own message), or undefined when it parses. */
export function cronProblem(cron: string, tz?: string): string | undefined {
  try {
    new Cron(cron, { paused: true, ...(tz ? { timezone: tz } : {}) }).nextRun(new Date(0));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** `start + durationMs` on the wall clock of `tz`: Fri 18:00 + 62h is Mon 08:00, whatever DST does in between. */
export function addWallClock(start: number, durationMs: number, tz: string): number {
  const local = DateTime.fromMillis(start, { zone: tz });
  const naive = DateTime.fromObject(
    { year: local.year, month: local.month, day: local.day, hour: local.hour, minute: local.minute, second: local.second, millisecond: local.millisecond },
    { zone: 'UTC' },
  ).plus({ milliseconds: durationMs });
  const end = DateTime.fromObject(
    { year: naive.year, month: naive.month, day: naive.day, hour: naive.hour, minute: naive.minute, second: naive.second, millisecond: naive.millisecond },
    { zone: tz },
  );
  return end.toMillis();
}

/** `Mon 7 Dec 08:00 Europe/Berlin`. */
export function describeInstant(at: number, tz: string): string {
  return `${DateTime.fromMillis(at, { zone: tz }).toFormat('ccc d LLL yyyy HH:mm')} ${tz}`;
}

/** The openings of a window that overlap [from, to), in order. */
export function occurrences(w: FreezeWindow, from: number, to: number): Interval[] {
  if (w.kind === 'oneOff') {
    const start = parseLocalTime(w.from, w.timezone);
    const end = parseLocalTime(w.to, w.timezone);
    if (start === undefined || end === undefined || end <= start) return [];
    return start < to && end > from ? [{ start, end }] : [];
  }
  const cron = new Cron(w.cron, { paused: true, timezone: w.timezone });
  // An opening up to duration (+ a DST hour) before `from` may still be open at `from`.
  let cursor: Date | null = new Date(from - w.durationMs - 2 * 3_600_000);
  const found: Interval[] = [];
  for (let i = 0; i < MAX_OCCURRENCES; i++) {
    cursor = cron.nextRun(cursor);
    if (!cursor) break;
    const start = cursor.getTime();
    if (start >= to) break;
    const end = addWallClock(start, w.durationMs, w.timezone);
    if (end > from) found.push({ start, end });
  }
  return found;
}

/**
 * The freeze in force at `at`, if any: every window open then, extended by windows that open
 * before it lifts (a one-off freeze right after the weekend is one freeze, not two).
 */
export function activeFreeze(windows: readonly FreezeWindow[], at: number): ActiveFreeze | null {
  const names: string[] = [];
  let endsAt = at;
  let tz = 'UTC';
  for (let round = 0; round < MAX_CHAIN; round++) {
    let extended = false;
    for (const w of windows) {
      for (const o of occurrences(w, at, endsAt + 1)) {
        if (o.start > endsAt || o.end <= endsAt) continue;
        endsAt = o.end;
        tz = w.timezone;
        if (!names.includes(w.name)) names.push(w.name);
        extended = true;
      }
    }
    if (!extended) break;
  }
  return names.length === 0 ? null : { windows: names, endsAt, endsText: describeInstant(endsAt, tz) };
}

/** Windows open at `at` and the next openings after it, up to `limit`, earliest first. */
export function upcoming(windows: readonly FreezeWindow[], at: number, limit: number, horizonMs = 400 * 24 * 3_600_000): FreezeOccurrence[] {
  const all: FreezeOccurrence[] = [];
  for (const w of windows) {
    let n = 0;
    for (const o of occurrences(w, at, at + horizonMs)) {
      if (n++ >= limit) break;
      all.push({ window: w.name, timezone: w.timezone, startsAt: o.start, endsAt: o.end, startsText: describeInstant(o.start, w.timezone), endsText: describeInstant(o.end, w.timezone) });
    }
  }
  return all.sort((a, b) => a.startsAt - b.startsAt).slice(0, limit);
}
