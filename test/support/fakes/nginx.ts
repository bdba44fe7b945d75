// The routers of the fake hosts: a colour and, during a canary, a weighted second colour.
import { ApplicationFailure } from '@temporalio/common';
import type { NginxActivities } from '../../../activities/nginx';
import type { FakeWorld } from './world';

export function fakeNginx(world: FakeWorld): NginxActivities {
  return {
    async readRouter({ host }) {
      const r = world.host(host.name).router;
      return { host: host.name, color: r?.color ?? null, version: r?.version ?? null, canary: r?.canary ? { ...r.canary } : null };
    },
    async switchRouter({ host, color, version, canary }) {
      const h = world.host(host.name);
      const want = canary && canary.weight > 0 ? { ...canary } : null;
      const now = h.router;
      if (now?.color === color && now.version === version && JSON.stringify(now.canary) === JSON.stringify(want)) return { host: host.name, changed: false };
      if (world.refuseConfig.has(host.name)) {
        throw ApplicationFailure.nonRetryable(`${host.name}: nginx refused the new config, old config kept`, 'RouterConfigRejected');
      }
      world.log(want ? { op: 'weigh', host: host.name, color: want.color, version: want.version, weight: want.weight } : { op: 'switch', host: host.name, color, version });
      h.router = { color, version, canary: want };
      return { host: host.name, changed: true };
    },
    async verifyRouter({ host, version, verify }) {
      const h = world.host(host.name);
      const served = h.router ? h.slots[h.router.color] : null;
      if (world.failVerify.has(version) || served !== version || h.router?.canary) {
        throw ApplicationFailure.nonRetryable(`${host.name}: answers through nginx were not ${version}`, 'VerifyFailed');
      }
      return { host: host.name, answers: verify.requests };
    },
  };
}
