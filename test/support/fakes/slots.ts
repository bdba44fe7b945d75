// The slots of the fake hosts: versions start and stop in them, health and HTTP probes read them.
import { ApplicationFailure } from '@temporalio/common';
import type { SlotActivities } from '../../../activities/slots';
import type { FakeWorld } from './world';

export function fakeSlots(world: FakeWorld): SlotActivities {
  const slots: SlotActivities = {
    async checkInstalled({ host, version }) {
      world.log({ op: 'check', host: host.name, version });
      const installed = !world.notInstalled.has(`${host.name}/${version}`);
      return { host: host.name, installed, detail: installed ? '' : `exit 3: version ${version} is not installed on this host` };
    },
    async stopSlot({ host, color }) {
      world.log({ op: 'stop', host: host.name, color });
      world.host(host.name).slots[color] = null;
    },
    async startSlot({ host, color, version }) {
      await world.beforeStart(host.name, version);
      world.log({ op: 'start', host: host.name, color, version });
      world.host(host.name).slots[color] = version;
    },
    async checkHealth({ host, color, version, health }) {
      world.log({ op: 'health', host: host.name, color, version });
      if (world.unhealthy.has(version) || world.host(host.name).slots[color] !== version) {
        throw ApplicationFailure.nonRetryable(`${host.name}: ${color} (${version}) failed its health check after ${health.attempts} attempts`, 'HealthCheckFailed');
      }
      return { host: host.name, attempts: 1, status: 200, ms: 3 };
    },
    async probeSlot({ host, color, metric }) {
      const version = world.host(host.name).slots[color];
      world.log({ op: 'probe', host: host.name, color, ...(version ? { version } : {}) });
      const ok = version !== null && !world.unhealthy.has(version);
      const status = version === null ? 0 : ok ? metric.expectStatus : 500;
      return { metric: metric.name, verdict: status === metric.expectStatus ? 'pass' : 'fail', value: status, threshold: `HTTP ${metric.expectStatus}`, detail: `${host.name}: HTTP ${status}` };
    },
    // The three host steps in one, as the real activity runs them.
    async replaceSlot(input) {
      await slots.stopSlot(input);
      await slots.startSlot(input);
      return slots.checkHealth(input);
    },
  };
  return slots;
}
