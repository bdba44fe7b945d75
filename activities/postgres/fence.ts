// Pure shell builders for the durable fence. Stopping the old primary is not enough: a reboot,
// systemd or a person may start it again while (or after) the standby takes writes. PostgreSQL
// starts in standby mode when its data directory holds `standby.signal` (PostgreSQL 12+,
// "Standby Server Operation"); then it is in recovery: read-only for every session, and no
// setting a session may change (`SET transaction_read_only = off` fails with "cannot set
// transaction read-write mode during recovery") makes it write. Only an explicit promotion
// (pg_promote / pg_ctl promote) or removing the file ends that, which is what the fence's undo does.
import { quote } from '../shell';

export const STANDBY_SIGNAL = 'standby.signal';

/** Leaves standby.signal in the stopped server's data directory, owned like the directory, and checks it is there. */
export function fenceSignalCommand(dataDir: string): string {
  const dir = quote(dataDir);
  const file = quote(`${dataDir.replace(/\/+$/, '')}/${STANDBY_SIGNAL}`);
  return `test -d ${dir} && touch ${file} && chown --reference=${dir} ${file} && test -f ${file}`;
}

/** Removes it again (the undo of a fence, before the server is started as a primary). */
export function unfenceSignalCommand(dataDir: string): string {
  return `rm -f ${quote(`${dataDir.replace(/\/+$/, '')}/${STANDBY_SIGNAL}`)}`;
}
