// An in-memory model of the hosts for workflow tests on the time-skipping server: each host
// has a router pointing at a colour and two slots that run a version or nothing. The fake
// activities have the same names and shapes as the real ones.
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { Color } from '../../workflows/plan';

export interface FakeHost {
  router: { color: Color; version: string } | null;
  slots: Record<Color, string | null>;
}

export interface FakeEvent {
  op: string;
  host: string;
  color?: Color;
  version?: string;
}

export class FakeWorld {
  readonly hosts = new Map<string, FakeHost>();
  readonly events: FakeEvent[] = [];
  readonly slack: { channel: string; text: string; threadTs?: string; key: string }[] = [];
  /** Versions whose health check fails. */
  readonly unhealthy = new Set<string>();
  /** Versions that fail verification through the router (e.g. crash right after health). */
  readonly failVerify = new Set<string>();
  /** Hosts whose nginx refuses new config. */
  readonly refuseConfig = new Set<string>();
  /** `host/version` pairs that are not installed (checkInstalled answers no). */
  readonly notInstalled = new Set<string>();
  /** Called before each startSlot; a test may make it wait. */
  beforeStart: (host: string, version: string) => Promise<void> = async () => {};

  constructor(names: string[], initial?: { color: Color; version: string }) {
    for (const name of names) {
      this.hosts.set(name, {
        router: initial ? { ...initial } : null,
        slots: { blue: initial?.color === 'blue' ? initial.version : null, green: initial?.color === 'green' ? initial.version : null },
      });
    }
  }

  host(name: string): FakeHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no fake host ${name}`);
    return h;
  }

  /** What every host serves, e.g. ["green:v2", "green:v2"]. */
  serving(): string[] {
    return [...this.hosts.values()].map((h) => (h.router ? `${h.router.color}:${h.router.version}` : 'none'));
  }

  running(color: Color): (string | null)[] {
    return [...this.hosts.values()].map((h) => h.slots[color]);
  }

  activities(): Activities {
    const world = this;
    const log = (e: FakeEvent): void => {
      world.events.push(e);
    };
    return {
      async readRouter({ host }) {
        const h = world.host(host.name);
        return { host: host.name, color: h.router?.color ?? null, version: h.router?.version ?? null };
      },
      async checkInstalled({ host, version }) {
        log({ op: 'check', host: host.name, version });
        const installed = !world.notInstalled.has(`${host.name}/${version}`);
        return { host: host.name, installed, detail: installed ? '' : `exit 3: version ${version} is not installed on this host` };
      },
      async stopSlot({ host, color }) {
        log({ op: 'stop', host: host.name, color });
        world.host(host.name).slots[color] = null;
      },
      async startSlot({ host, color, version }) {
        await world.beforeStart(host.name, version);
        log({ op: 'start', host: host.name, color, version });
        world.host(host.name).slots[color] = version;
      },
      async checkHealth({ host, color, version, health }) {
        log({ op: 'health', host: host.name, color, version });
        if (world.unhealthy.has(version) || world.host(host.name).slots[color] !== version) {
          throw ApplicationFailure.nonRetryable(`${host.name}: ${color} (${version}) failed its health check after ${health.attempts} attempts`, 'HealthCheckFailed');
        }
        return { host: host.name, attempts: 1, status: 200, ms: 3 };
      },
      async switchRouter({ host, color, version }) {
        const h = world.host(host.name);
        if (h.router?.color === color && h.router.version === version) return { host: host.name, changed: false };
        if (world.refuseConfig.has(host.name)) {
          throw ApplicationFailure.nonRetryable(`${host.name}: nginx refused the new config, old config kept`, 'RouterConfigRejected');
        }
        log({ op: 'switch', host: host.name, color, version });
        h.router = { color, version };
        return { host: host.name, changed: true };
      },
      async verifyRouter({ host, version, verify }) {
        const h = world.host(host.name);
        const served = h.router ? h.slots[h.router.color] : null;
        if (world.failVerify.has(version) || served !== version) {
          throw ApplicationFailure.nonRetryable(`${host.name}: answers through nginx were not ${version}`, 'VerifyFailed');
        }
        return { host: host.name, answers: verify.requests };
      },
      async slackPost(input) {
        const existing = world.slack.findIndex((m) => m.key === input.key);
        if (existing < 0) world.slack.push(input);
        return { ts: `ts-${existing < 0 ? world.slack.length : existing + 1}` };
      },
      async slackUpdate() {},
    };
  }
}
