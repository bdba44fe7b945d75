// A sandbox of N hosts plus the cutover.yml that describes it, so the demo, the tests and
// the benchmark drive the same CLI path a user's CI does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { ConfigInput } from '../config/schema';
import type { Color } from '../contract';
import { freePort, hostAddress, sandboxPlan, startHost, type Behaviour, type SandboxHost } from './world';

export interface SandboxOptions {
  /** Base directory; host i lives in `<base>/web<i+1>`. */
  base: string;
  app: string;
  env: string;
  hosts?: number;
  releases: Record<string, Behaviour | undefined>;
  initial?: { color: Color; version: string };
}

export interface Sandbox {
  hosts: SandboxHost[];
  stop(): Promise<void>;
}

export async function startSandbox(o: SandboxOptions): Promise<Sandbox> {
  mkdirSync(o.base, { recursive: true });
  const ports = { blue: await freePort(), green: await freePort(), nginx: await freePort() };
  const hosts: SandboxHost[] = [];
  try {
    for (let i = 0; i < (o.hosts ?? 2); i++) {
      const name = `web${i + 1}`;
      hosts.push(
        await startHost({
          name,
          root: join(o.base, name),
          address: hostAddress(i),
          upstreamName: `${o.app}_${o.env}`.replace(/[^A-Za-z0-9_]/g, '_'),
          ports: { ...ports, ssh: await freePort(hostAddress(i)) },
          releases: o.releases,
          ...(o.initial ? { initial: o.initial } : {}),
        }),
      );
    }
  } catch (err) {
    await Promise.all(hosts.map((h) => h.stop()));
    throw err;
  }
  return { hosts, stop: async () => void (await Promise.all(hosts.map((h) => h.stop()))) };
}

export interface SandboxConfigOptions {
  app: string;
  env: string;
  teardownDelay: string;
  slackChannel?: string;
  /** The `strategy:` of the file, e.g. `{ canary: { steps: [...] } }`; default blue-green. */
  strategy?: EnvironmentInput['strategy'];
  /** The file's `temporal:` section (namespace defaults to `default`). */
  temporal?: NonNullable<ConfigInput['temporal']>;
  /** The file's `audit:` section (the audit log in PostgreSQL). */
  audit?: NonNullable<ConfigInput['audit']>;
  /** Override fields of the environment (e.g. a wrong host key for a test). */
  edit?: (env: EnvironmentInput) => void;
}

type EnvironmentInput = ConfigInput['apps'][string]['environments'][string];

/** The cutover.yml text for a sandbox: what sandboxPlan describes, in the file's own shape. */
export function sandboxConfig(hosts: SandboxHost[], o: SandboxConfigOptions): string {
  const plan = sandboxPlan(hosts, { app: o.app, env: o.env });
  const env: EnvironmentInput = {
    hosts: plan.platform.hosts.map((h) => ({ ...h })),
    slots: { ...plan.platform.slots },
    router: { nginx: { upstreamFile: plan.router.upstreamFile, upstreamName: plan.router.upstreamName, test: plan.router.test, reload: plan.router.reload, url: plan.router.url } },
    healthCheck: { path: plan.health.path, expectStatus: plan.health.expectStatus, timeout: `${plan.health.timeoutMs}ms`, interval: `${plan.health.intervalMs}ms`, attempts: plan.health.attempts },
    verify: { ...plan.verify },
    teardownDelay: o.teardownDelay,
    ...(o.strategy ? { strategy: o.strategy } : {}),
    ...(o.slackChannel ? { slack: { channel: o.slackChannel } } : {}),
  };
  o.edit?.(env);
  const config: ConfigInput = {
    ...(o.temporal ? { temporal: { namespace: 'default', ...o.temporal } } : {}),
    ...(o.audit ? { audit: o.audit } : {}),
    apps: { [o.app]: { environments: { [o.env]: env } } },
  };
  return `# Generated for the local sandbox: ${hosts.length} hosts on loopback, each sshd + nginx + two slots.\n${YAML.stringify(config)}`;
}

export function writeSandboxConfig(file: string, hosts: SandboxHost[], o: SandboxConfigOptions): string {
  writeFileSync(file, sandboxConfig(hosts, o));
  return file;
}
