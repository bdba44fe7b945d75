// The failover's lag gate, pure: may the standby be promoted with the lag it has? No I/O, no
// Temporal: unit-tested on its own and deterministic inside the workflow.
import type { GatesSpec } from '../../contract/failover';

export interface LagReading {
  bytes: number | null;
  seconds: number | null;
}

export type LagVerdict =
  | { pass: true; warning?: string }
  | { pass: false; reason: string };

const mib = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${n} bytes`);

export function judgeLag(lag: LagReading, gates: GatesSpec, acceptDataLoss: boolean): LagVerdict {
  const problems: string[] = [];
  if (lag.bytes === null) problems.push('the standby cannot tell how far behind it is (no replay position)');
  else if (lag.bytes > gates.maxLagBytes) problems.push(`${mib(lag.bytes)} behind (limit ${mib(gates.maxLagBytes)})`);
  if (lag.seconds !== null && lag.seconds > gates.maxLagSeconds) problems.push(`${lag.seconds.toFixed(1)} s behind (limit ${gates.maxLagSeconds} s)`);
  if (problems.length === 0) return { pass: true };
  const what = problems.join('; ');
  if (acceptDataLoss) return { pass: true, warning: `promoted with data loss accepted: ${what}` };
  return { pass: false, reason: `${what}; promoting would lose those writes. Wait for the standby to catch up, or accept the loss with --accept-data-loss` };
}
