// Activities on each host's nginx, over SSH: read what it routes, point it at a colour (or split
// traffic with a canary), verify through it. Each is safe to retry: it reads the host first or
// acts idempotently.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Color, HostSpec, NginxRouter, SlotsSpec, VerifySpec } from '../../contract/spec';
import { renderPath, hostVars } from '../shell';
import { ERROR_TYPE } from '../ssh/classify';
import { run, type Ssh, type SshSession } from '../ssh/client';
import { onHost } from '../ssh/on-host';
import {
  CONFIG_REJECTED_EXIT,
  judgeVerifyOutput,
  parseUpstream,
  parseVerifyOutput,
  readUpstreamCommand,
  reloadIfValidCommand,
  renderUpstream,
  switchUpstreamCommand,
  verifyThroughRouterCommand,
} from './commands';

export interface HostRouterInput {
  host: HostSpec;
  router: NginxRouter;
  slots: SlotsSpec;
}
export interface RouterState {
  host: string;
  color: Color | null;
  version: string | null;
  /** A canary taking a share of this host's traffic, if one is in progress. */
  canary?: { color: Color; version: string | null; weight: number } | null;
}
export interface SwitchInput extends HostRouterInput {
  color: Color;
  version: string;
  /** The colour still running for rollback; nginx falls back to it if `color` stops answering. */
  backup?: Color;
  /** Send `weight` percent (1-99) to the canary colour, the rest to `color`. */
  canary?: { color: Color; version: string; weight: number };
}
export interface VerifyInput extends HostRouterInput {
  version: string;
  verify: VerifySpec;
  timeoutMs: number;
}

/** How long verification waits for a reload to take effect before it counts answers. */
const RELOAD_SETTLE_MS = 5_000;

const slotAddress = (host: HostSpec, slots: SlotsSpec): string => renderPath(slots.address, hostVars(host));

async function readUpstream(s: SshSession, input: HostRouterInput): Promise<RouterState> {
  const text = await run(s, input.host, readUpstreamCommand(input.router, input.host), { timeoutMs: 30_000 });
  const parsed = parseUpstream(text, { blue: input.slots.blue.port, green: input.slots.green.port });
  if (text.trim() !== '' && parsed.color === null) {
    throw ApplicationFailure.nonRetryable(
      `${input.host.name}: ${input.router.upstreamFile} points at port ${parsed.port ?? '?'}, which is neither slot (blue ${input.slots.blue.port}, green ${input.slots.green.port}); fix the file or the slot ports`,
      ERROR_TYPE.routerConfigRejected,
    );
  }
  return { host: input.host.name, color: parsed.color, version: parsed.version, canary: parsed.canary };
}

const sameCanary = (now: RouterState['canary'], want: SwitchInput['canary']): boolean =>
  want && want.weight > 0 ? now?.color === want.color && now.version === want.version && now.weight === want.weight : !now;

export function createNginxActivities(ssh: Ssh) {
  return {
    /** Which colour and version this host's nginx really serves (null colour: never deployed). */
    async readRouter(input: HostRouterInput): Promise<RouterState> {
      return onHost(() => ssh.withSession(input.host, (s) => readUpstream(s, input)));
    },

    /**
     * Point this host's nginx at `color` (and a canary share, if given): atomic write,
     * `nginx -t`, reload. Idempotent, so a retry after a crash is harmless; `changed` says
     * whether the host routed something else.
     */
    async switchRouter(input: SwitchInput): Promise<{ host: string; changed: boolean }> {
      const { host, router, slots, color, version, backup, canary } = input;
      return onHost(() =>
        ssh.withSession(host, async (s) => {
          const now = await readUpstream(s, input);
          if (now.color === color && now.version === version && sameCanary(now.canary, canary)) {
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
            ...(canary && canary.weight > 0 ? { canary: { ...canary, port: slots[canary.color].port } } : {}),
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

export type NginxActivities = ReturnType<typeof createNginxActivities>;
