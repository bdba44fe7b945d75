// What a recurring deploy talks to, over the fake world: the version source answers the
// world's latest release, and requested deploys are kept as the environment would receive them.
import type { DeployRequest } from '../../../contract';
import type { FakeWorld } from './world';

export function fakeScheduleSystems(world: FakeWorld) {
  return {
    async resolveVersion(): Promise<string> {
      if (world.latestRelease === null) throw new Error('the version source answered nothing');
      return world.latestRelease;
    },
    async requestDeploy(request: DeployRequest): Promise<void> {
      if (!world.requestedDeploys.some((r) => r.deployId === request.deployId)) world.requestedDeploys.push(request);
    },
  };
}
