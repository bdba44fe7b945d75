// createActivities(deps): every activity the worker registers, one module per external system,
// each built from injected clients and config so tests can point them at local servers.
import { createNginxActivities } from './nginx';
import { createPrometheusActivities } from './prometheus';
import { createSlackActivities, type SlackDeps } from './slack';
import { createSlotActivities } from './slots';
import type { Ssh } from './ssh/client';

type PrometheusDeps = NonNullable<Parameters<typeof createPrometheusActivities>[0]>;

export interface ActivityDeps {
  ssh: Ssh;
  slack: SlackDeps;
  prometheus?: PrometheusDeps;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSlotActivities(deps.ssh),
    ...createNginxActivities(deps.ssh),
    ...createPrometheusActivities(deps.prometheus),
    ...createSlackActivities(deps.slack),
  };
}

export type Activities = ReturnType<typeof createActivities>;
