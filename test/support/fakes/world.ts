// An in-memory model of the world for workflow tests on the time-skipping server: each host
// has a router that sends its traffic to a colour (and a share of it to a canary) and two
// slots that run a version or nothing; metrics are values per version, seen only while a
// version takes traffic. The fakes of each system (./slots, ./nginx, ./prometheus, ./slack)
// act on this model and compose into the worker's activities.
import type { Activities } from '../../../activities';
import type { Color, DeployRequest } from '../../../contract';
import { createFreezeActivities } from '../../../activities/freeze';
import { fakeAudit, newAuditDb } from './audit';
import { fakeFailover, FakeDr } from './failover';
import { fakeAws, FakeAws } from './aws';
import { fakeNginx } from './nginx';
import { fakeScheduleSystems } from './schedule';
import { fakePrometheus } from './prometheus';
import { fakeSlack } from './slack';
import { fakeSlots } from './slots';

export interface FakeRouter {
  color: Color;
  version: string;
  canary: { color: Color; version: string; weight: number } | null;
}

export interface FakeHost {
  router: FakeRouter | null;
  slots: Record<Color, string | null>;
}

export interface FakeEvent {
  op: string;
  host: string;
  color?: Color;
  version?: string;
  weight?: number;
}

export class FakeWorld {
  readonly hosts = new Map<string, FakeHost>();
  /** The ALB listener and CodeDeploy of an aws+alb plan. */
  readonly aws = new FakeAws();
  readonly events: FakeEvent[] = [];
  readonly slack: { channel: string; text: string; threadTs?: string; key: string; failoverButton?: { monitorId: string; site: string; standby: string } }[] = [];
  /** Versions whose health check fails. */
  readonly unhealthy = new Set<string>();
  /** Versions that fail verification through the router (e.g. crash right after health). */
  readonly failVerify = new Set<string>();
  /** Hosts whose nginx refuses new config. */
  readonly refuseConfig = new Set<string>();
  /** `host/version` pairs that are not installed (checkInstalled answers no). */
  readonly notInstalled = new Set<string>();
  /** metric name → version → value, as Prometheus would compute it while the version takes traffic. */
  readonly metrics = new Map<string, Map<string, number>>();
  /** What a recurring deploy's version source answers (null: nothing). */
  latestRelease: string | null = null;
  /** Deploys requested by recurring deploys. */
  readonly requestedDeploys: DeployRequest[] = [];
  /** Prometheus cannot be reached. */
  prometheusDown = false;
  /** The audit log's table. */
  readonly audit = newAuditDb();
  /** The failover's databases, DNS and sites (./failover). */
  readonly dr = new FakeDr();
  /** Called before each startSlot; a test may make it wait. */
  beforeStart: (host: string, version: string) => Promise<void> = async () => {};

  constructor(names: string[], initial?: { color: Color; version: string }) {
    for (const name of names) {
      this.hosts.set(name, {
        router: initial ? { ...initial, canary: null } : null,
        slots: { blue: initial?.color === 'blue' ? initial.version : null, green: initial?.color === 'green' ? initial.version : null },
      });
    }
  }

  host(name: string): FakeHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no fake host ${name}`);
    return h;
  }

  /** What every host serves, e.g. ["green:v2", "green:v2"], or "blue:v1+green:v2@5" during a canary. */
  serving(): string[] {
    return [...this.hosts.values()].map((h) =>
      h.router ? `${h.router.color}:${h.router.version}${h.router.canary ? `+${h.router.canary.color}:${h.router.canary.version}@${h.router.canary.weight}` : ''}` : 'none',
    );
  }

  running(color: Color): (string | null)[] {
    return [...this.hosts.values()].map((h) => h.slots[color]);
  }

  /** Does any router send traffic to `version` (as the main colour or a canary with a share)? */
  takesTraffic(version: string): boolean {
    return [...this.hosts.values()].some((h) => {
      const r = h.router;
      if (!r) return false;
      if (r.canary && r.canary.version === version) return r.canary.weight > 0 && h.slots[r.canary.color] === version;
      return r.version === version && h.slots[r.color] === version && (r.canary?.weight ?? 0) < 100;
    });
  }

  /** Set what a metric measures for a version, e.g. setMetric('error-rate', 'v2', 0.2). */
  setMetric(metric: string, version: string, value: number): void {
    const byVersion = this.metrics.get(metric) ?? new Map<string, number>();
    byVersion.set(version, value);
    this.metrics.set(metric, byVersion);
  }

  log(e: FakeEvent): void {
    this.events.push(e);
  }

  activities(): Activities {
    // Freeze arithmetic is pure: the real activities, not a fake.
    return { ...fakeSlots(this), ...fakeNginx(this), ...fakePrometheus(this), ...fakeSlack(this), ...createFreezeActivities(), ...fakeScheduleSystems(this), ...fakeAudit(this.audit), ...fakeFailover(this.dr), ...fakeAws(this.aws) };
  }
}
