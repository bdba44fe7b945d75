// `--at`: when a scheduled deploy starts, as people write it: `2026-11-23 02:00 Europe/Berlin`,
// `2026-11-23 02:00` (this machine's time zone) or ISO 8601 with an offset.
import { DateTime } from 'luxon';
import { describeInstant, isValidTimezone } from '../activities/freeze/calendar';
import { CliError, EXIT } from './output';

const LOCAL = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(?:\s+(\S+))?$/;
const EXAMPLE = 'write "YYYY-MM-DD HH:MM Area/City", e.g. "2026-11-23 02:00 Europe/Berlin"';

/** The instant and how to say it; throws a bad-input CliError for anything else or a time already past. */
export function parseAt(text: string, now: number, localZone = DateTime.local().zoneName ?? 'UTC'): { at: number; text: string } {
  const trimmed = text.trim();
  const m = LOCAL.exec(trimmed);
  let dt: DateTime;
  let zone: string;
  if (m) {
    zone = m[3] ?? localZone;
    if (!isValidTimezone(zone)) throw new CliError(`--at: unknown time zone ${JSON.stringify(zone)}; ${EXAMPLE}`, EXIT.badInput);
    dt = DateTime.fromFormat(`${m[1]} ${m[2]}`, 'yyyy-MM-dd HH:mm', { zone });
  } else {
    dt = DateTime.fromISO(trimmed, { setZone: true });
    zone = dt.isValid ? (dt.zoneName ?? 'UTC') : 'UTC';
  }
  if (!dt.isValid) throw new CliError(`--at: ${JSON.stringify(text)} is not a time; ${EXAMPLE}`, EXIT.badInput);
  const at = dt.toMillis();
  if (at <= now) throw new CliError(`--at: ${describeInstant(at, zone)} is in the past; give a time to come, or deploy now without --at`, EXIT.badInput);
  return { at, text: describeInstant(at, zone) };
}
