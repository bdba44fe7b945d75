// The router seam: read what serves, switch, give a canary a share, put traffic back, verify.
// One row per router kind (nginx on every host, an ALB listener); the runbooks call these.
import { isAwsPlan } from '../../contract/plan-kinds';
import type { Color, Plan } from '../../contract/spec';
import { sshOnly } from './hosts';
import type { Journal } from './journal';
import type { Live } from './outcome';
import * as alb from './routers/alb';
import * as nginx from './routers/nginx';

/** What serves now; refused (HostsDisagree) when the routers disagree or the listener drifted. */
export const readLiveColour = (plan: Plan): Promise<Live | null> => (isAwsPlan(plan) ? alb.readLiveColour(plan) : nginx.readLiveColour(sshOnly(plan)));

export const switchTraffic = (plan: Plan, color: Color, version: string, backup: Color | undefined, journal: Journal): Promise<void> =>
  isAwsPlan(plan) ? alb.switchTraffic(plan, color, version, backup, journal) : nginx.switchTraffic(sshOnly(plan), color, version, backup, journal);

export const shiftTraffic = (plan: Plan, stable: { color: Color; version: string }, canary: { color: Color; version: string }, weight: number): Promise<void> =>
  isAwsPlan(plan) ? alb.shiftTraffic(plan, stable, canary, weight) : nginx.shiftTraffic(sshOnly(plan), stable, canary, weight);

export const restoreTraffic = (plan: Plan, to: { color: Color; version: string }, summary?: (host: string) => string): Promise<void> =>
  isAwsPlan(plan) ? alb.restoreTraffic(plan, to) : nginx.restoreTraffic(sshOnly(plan), to, summary);

export const verifyTraffic = (plan: Plan, version: string, journal: Journal): Promise<void> =>
  isAwsPlan(plan) ? alb.verifyTraffic(plan, version, journal) : nginx.verifyTraffic(sshOnly(plan), version, journal);
