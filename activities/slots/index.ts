// Activities on the two slots of each host, over SSH: is a version there, stop, start,
// health-check, and probe a canary's HTTP metric. Each is safe to retry.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Measurement } from '../../contract/analysis';
import type { Color, HealthSpec, HostSpec, HttpMetric, SlotsSpec } from '../../contract/spec';
import { ERROR_TYPE } from '../ssh/classify';
import { run, type Ssh, type SshSession } from '../ssh/client';
import { onHost } from '../ssh/on-host';
import {
  healthProbeCommand,
  installedCheckCommand,
  parseProbeOutput,
  slotAddress,
  slotUrlProbeCommand,
  startSlotCommand,
  stopSlotCommand,
} from './commands';

export interface SlotInput {
  host: HostSpec;
  slots: SlotsSpec;
  color: Color;
}
export interface StartSlotInput extends SlotInput {
  version: string;
}
export interface InstalledInput {
  host: HostSpec;
  slots: SlotsSpec;
  version: string;
}
export interface InstalledResult {
  host: string;
  installed: boolean;
  /** Why not: the check's exit code and first line of stderr. */
  detail: string;
}
export interface HealthInput extends StartSlotInput {
  health: HealthSpec;
}
export interface HealthResult {
  host: string;
  attempts: number;
  status: number | null;
  ms: number | null;
}
export interface ProbeSlotInput extends SlotInput {
  metric: HttpMetric;
}

const COMMAND_TIMEOUT_MS = 120_000;

export function createSlotActivities(ssh: Ssh) {
  return {
    /** Is the version there to start (`slots.installed` exits 0)? Reads only. */
    async checkInstalled(input: InstalledInput): Promise<InstalledResult> {
      const { host } = input;
      const command = installedCheckCommand(host, input.slots, input.version);
      return onHost(() =>
        ssh.withSession(host, async (s) => {
          const r = await s.exec(command, { timeoutMs: 30_000 });
          const why = r.stderr.trim().split('\n')[0] ?? '';
          return { host: host.name, installed: r.code === 0, detail: r.code === 0 ? '' : `exit ${r.code}${why ? `: ${why}` : ''}` };
        }),
      );
    },

    async stopSlot(input: SlotInput): Promise<void> {
      await onHost(
        () => ssh.withSession(input.host, (s) => run(s, input.host, stopSlotCommand(input.host, input.slots, input.color), { timeoutMs: COMMAND_TIMEOUT_MS })),
        { commandFailuresAreFinal: true },
      );
    },

    async startSlot(input: StartSlotInput): Promise<void> {
      await onHost(
        () => ssh.withSession(input.host, (s) => run(s, input.host, startSlotCommand(input.host, input.slots, input.color, input.version), { timeoutMs: COMMAND_TIMEOUT_MS })),
        { commandFailuresAreFinal: true },
      );
    },

    /** Probe the slot on the host until it answers as expected or attempts run out; heartbeats each try. */
    async checkHealth(input: HealthInput): Promise<HealthResult> {
      return onHost(() => ssh.withSession(input.host, (s) => probeUntilHealthy(s, input)));
    },

    /**
     * Stop whatever runs in the slot, start the version in it and health-check it: the three
     * host steps of a deploy in one activity, so a deploy waits for one round per host instead
     * of three. A failed stop or start is final (as stopSlot/startSlot); a cancellation between
     * the steps stops before the next one.
     */
    async replaceSlot(input: HealthInput): Promise<HealthResult> {
      const { host } = input;
      const ctx = Context.current();
      // A retry after the slot had started (a worker lost during the health check) resumes the check.
      const resumed = (ctx.info.heartbeatDetails as { step?: string } | undefined)?.step === 'health';
      let step: ReplaceStep = resumed ? 'health' : 'stop';
      const details = (): { step: ReplaceStep } => ({ step });
      const stopIfCancelled = (): void => {
        if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`cancelled on ${host.name} before the next step`);
      };
      if (!resumed) {
        await onHost(
          () =>
            ssh.withSession(host, async (s) => {
              ctx.heartbeat(details());
              await run(s, host, stopSlotCommand(host, input.slots, input.color), { timeoutMs: COMMAND_TIMEOUT_MS });
              stopIfCancelled();
              step = 'start';
              ctx.heartbeat(details());
              await run(s, host, startSlotCommand(host, input.slots, input.color, input.version), { timeoutMs: COMMAND_TIMEOUT_MS });
              stopIfCancelled();
            }),
          { commandFailuresAreFinal: true },
          details,
        );
      }
      step = 'health';
      return onHost(() => ssh.withSession(host, (s) => probeUntilHealthy(s, input, details)), undefined, details);
    },

    /**
     * One request to the canary slot on the host (an `http` metric): passes on the expected
     * status, fails on another, is inconclusive when the host cannot be asked.
     */
    async probeSlot(input: ProbeSlotInput): Promise<Measurement> {
      const { host, metric } = input;
      const threshold = `HTTP ${metric.expectStatus}`;
      const command = slotUrlProbeCommand(host, input.slots, input.color, metric.url, metric.timeoutMs);
      try {
        return await onHost(() =>
          ssh.withSession(host, async (s) => {
            const r = await s.exec(command, { timeoutMs: metric.timeoutMs + 10_000 });
            const probe = parseProbeOutput(r.stdout);
            const status = probe?.status ?? 0;
            const ms = probe ? Math.round(probe.seconds * 1000) : null;
            const ok = status === metric.expectStatus;
            const detail = `${host.name}: ${status === 0 ? `no answer${r.stderr.trim() ? ` (${r.stderr.trim().split('\n')[0]})` : ''}` : `HTTP ${status} in ${ms} ms`}`;
            return { metric: metric.name, verdict: ok ? 'pass' : 'fail', value: status, threshold, detail } satisfies Measurement;
          }),
        );
      } catch (err) {
        if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
        return { metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail: `${host.name}: cannot probe: ${(err as Error).message}` };
      }
    },
  };
}

export type SlotActivities = ReturnType<typeof createSlotActivities>;

/** Where replaceSlot is, in its heartbeat details. */
type ReplaceStep = 'stop' | 'start' | 'health';

/** Probe the slot until it answers as expected or attempts run out, heartbeating each try. */
async function probeUntilHealthy(s: SshSession, input: HealthInput, details: () => object = () => ({})): Promise<HealthResult> {
  const { host, health } = input;
  const ctx = Context.current();
  const command = healthProbeCommand(host, input.slots, health, input.color, input.version);
  const target = input.slots.health ? `health command` : `http://${slotAddress(host, input.slots)}:${input.slots[input.color].port}${health.path}`;
  let last = 'no answer';
  for (let attempt = 1; attempt <= health.attempts; attempt++) {
    ctx.heartbeat({ ...details(), attempt });
    const r = await s.exec(command, { timeoutMs: health.timeoutMs + 10_000 });
    if (input.slots.health) {
      if (r.code === 0) return { host: host.name, attempts: attempt, status: null, ms: null };
      last = `exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
    } else {
      const probe = parseProbeOutput(r.stdout);
      const ms = probe ? Math.round(probe.seconds * 1000) : null;
      if (probe && probe.status === health.expectStatus && ms !== null && ms <= health.timeoutMs) {
        return { host: host.name, attempts: attempt, status: probe.status, ms };
      }
      last = probe && probe.status !== 0 ? `HTTP ${probe.status} in ${ms} ms` : r.stderr.trim().split('\n')[0] || 'no answer';
    }
    if (attempt < health.attempts) await ctx.sleep(health.intervalMs);
  }
  throw ApplicationFailure.nonRetryable(
    `${host.name}: ${input.color} (${input.version}) failed its health check after ${health.attempts} attempts (${target}, want HTTP ${health.expectStatus} under ${health.timeoutMs} ms): last ${last}`,
    ERROR_TYPE.healthCheckFailed,
  );
}
