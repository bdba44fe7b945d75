// Activities that act on the app hosts over SSH: the nginx router and the two slots.
// Each one is safe to retry: it reads the host first or acts idempotently.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Color, HealthSpec, HostSpec, RouterSpec, SlotsSpec, VerifySpec } from '../workflows/plan';
import { classify, ERROR_TYPE } from './errors';
import {
  CONFIG_REJECTED_EXIT,
  parseUpstream,
  judgeVerifyOutput,
  parseVerifyOutput,
  readUpstreamCommand,
  reloadIfValidCommand,
  renderUpstream,
  switchUpstreamCommand,
  verifyThroughRouterCommand,
} from './nginx-commands';
import {
  healthProbeCommand,
  installedCheckCommand,
  parseProbeOutput,
  slotAddress,
  startSlotCommand,
  stopSlotCommand,
} from './slot-commands';
import { run, type Ssh, type SshSession } from './ssh';

export interface HostRouterInput {
  host: HostSpec;
  router: RouterSpec;
  slots: SlotsSpec;
}
export interface RouterState {
  host: string;
  color: Color | null;
  version: string | null;
}
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
export interface SwitchInput extends HostRouterInput {
  color: Color;
  version: string;
  /** The colour still running for rollback; nginx falls back to it if `color` stops answering. */
  backup?: Color;
}
export interface VerifyInput extends HostRouterInput {
  version: string;
  verify: VerifySpec;
  timeoutMs: number;
}

const COMMAND_TIMEOUT_MS = 120_000;
const HEARTBEAT_EVERY_MS = 1_000;
/** How long verification waits for a reload to take effect before it counts answers. */
const RELOAD_SETTLE_MS = 5_000;

/**
 * Run an activity body on a host, heartbeating while it runs (also while it waits for a free
 * SSH session): a worker killed mid-command is noticed after the heartbeat timeout, seconds,
 * and the retry runs on another worker instead of waiting out the start-to-close timeout.
 */
async function onHost<T>(fn: () => Promise<T>, opts?: Parameters<typeof classify>[1]): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await classify(fn, opts);
  } finally {
    clearInterval(beat);
  }
}

async function readUpstream(s: SshSession, input: HostRouterInput): Promise<RouterState> {
  const text = await run(s, input.host, readUpstreamCommand(input.router, input.host), { timeoutMs: 30_000 });
  const parsed = parseUpstream(text, { blue: input.slots.blue.port, green: input.slots.green.port });
  if (text.trim() !== '' && parsed.color === null) {
    throw ApplicationFailure.nonRetryable(
      `${input.host.name}: ${input.router.upstreamFile} points at port ${parsed.port ?? '?'}, which is neither slot (blue ${input.slots.blue.port}, green ${input.slots.green.port}); fix the file or the slot ports`,
      ERROR_TYPE.routerConfigRejected,
    );
  }
  return { host: input.host.name, color: parsed.color, version: parsed.version };
}

export function createHostActivities(ssh: Ssh) {
  return {
    /** Which colour and version this host's nginx really serves (null colour: never deployed). */
    async readRouter(input: HostRouterInput): Promise<RouterState> {
      return onHost(() => ssh.withSession(input.host, (s) => readUpstream(s, input)));
    },

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
      const { host, health } = input;
      const ctx = Context.current();
      const command = healthProbeCommand(host, input.slots, health, input.color, input.version);
      const target = input.slots.health ? `health command` : `http://${slotAddress(host, input.slots)}:${input.slots[input.color].port}${health.path}`;
      return onHost(() =>
        ssh.withSession(host, async (s) => {
          let last = 'no answer';
          for (let attempt = 1; attempt <= health.attempts; attempt++) {
            ctx.heartbeat({ attempt });
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
        }),
      );
    },

    /**
     * Point this host's nginx at `color`: atomic write, `nginx -t`, reload. Idempotent, so a
     * retry after a crash is harmless; `changed` says whether the host served something else.
     */
    async switchRouter(input: SwitchInput): Promise<{ host: string; changed: boolean }> {
      const { host, router, slots, color, version, backup } = input;
      return onHost(() =>
        ssh.withSession(host, async (s) => {
          const now = await readUpstream(s, input);
          if (now.color === color && now.version === version) {
            // Already written, perhaps by an attempt that died before reloading: reload if nginx
            // accepts its config. If it does not, reloading is impossible and the running nginx
            // keeps what it has; that must not fail a restore on an untouched host.
            const r = await s.exec(reloadIfValidCommand(router, host), { timeoutMs: 60_000 });
            if (r.code !== 0) Context.current().log.warn(`${host.name}: nginx config does not test clean; not reloaded`, { stderr: r.stderr });
            return { host: host.name, changed: false };
          }
          const content = renderUpstream({
            upstreamName: router.upstreamName,
            address: slotAddress(host, slots),
            color,
            version,
            port: slots[color].port,
            ...(backup && backup !== color ? { backupPort: slots[backup].port } : {}),
          });
          const r = await s.exec(switchUpstreamCommand(router, host), { stdin: content, timeoutMs: 60_000 });
          if (r.code === CONFIG_REJECTED_EXIT) {
            throw ApplicationFailure.nonRetryable(
              `${host.name}: nginx refused the new config, old config kept and not reloaded: ${r.stderr.trim()}`,
              ERROR_TYPE.routerConfigRejected,
            );
          }
          if (r.code !== 0) throw new Error(`${host.name}: switching nginx to ${color} failed (exit ${r.code}): ${r.stderr.trim()}`);
          return { host: host.name, changed: true };
        }),
      );
    },

    /** N answers in a row through this host's router must come from `version`, once the reload has taken effect. */
    async verifyRouter(input: VerifyInput): Promise<{ host: string; answers: number }> {
      const { host, router, verify, version } = input;
      return onHost(() =>
        ssh.withSession(host, async (s) => {
          const out = await run(s, host, verifyThroughRouterCommand(router, host, { versionHeader: verify.versionHeader, version, requests: verify.requests, timeoutMs: input.timeoutMs, settleMs: RELOAD_SETTLE_MS }), { timeoutMs: 60_000 });
          const answers = parseVerifyOutput(out);
          if (!judgeVerifyOutput(answers, version, verify.requests)) {
            const seen = answers.slice(-Math.max(verify.requests, 5)).map((a) => `${a.status} ${a.version || '-'}`).join(', ');
            throw ApplicationFailure.nonRetryable(
              `${host.name}: no ${verify.requests} answers in a row through nginx came from ${version} within ${RELOAD_SETTLE_MS / 1000} s of the switch (${answers.length} answers, the last: ${seen})`,
              ERROR_TYPE.verifyFailed,
            );
          }
          return { host: host.name, answers: answers.length };
        }),
      );
    },
  };
}

export type HostActivities = ReturnType<typeof createHostActivities>;
