// createActivities(deps): every activity the worker registers, built from injected clients
// and config so tests can point them at local servers.
import { createHostActivities } from './hosts';
import { createSlackActivities, type SlackDeps } from './slack';
import type { Ssh } from './ssh';

export interface ActivityDeps {
  ssh: Ssh;
  slack: SlackDeps;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHostActivities(deps.ssh),
    ...createSlackActivities(deps.slack),
  };
}

export type Activities = ReturnType<typeof createActivities>;
