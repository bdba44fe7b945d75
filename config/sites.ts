// The `sites:` section of cutover.yml: services with a primary and a standby site, mapped once
// onto contract/failover.ts's FailoverSpec. Built lazily because it shares field schemas with
// ./schema, which attaches it (the two modules import each other).
import { z } from 'zod';
import { failoverSpecSchema, UNREACHABLE_RULES, type FailoverSpec, type SiteSpec } from '../contract/failover';
import { safeName } from '../contract/names';
import { durationSchema, envVarNameSchema, hostSchema } from './schema';

const httpUrl = (example: string) => z.string().regex(/^https?:\/\/\S+$/, { message: `expected an http(s) URL like ${example}` });
const portSchema = z.number().int().min(1).max(65535);

/** A byte size: a number, or "16kB", "16MB", "1GB" (powers of 1024). */
const bytesSchema = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB)?\s*$/.exec(v);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 0, "64kB" or "16MB", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  const unit = { B: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] ?? 'B'] ?? 1;
  return Math.round(Number(m[1]) * unit);
});

const healthUrl = z.string().regex(/^https?:\/\/\S+$/, { message: 'expected an http(s) URL like http://{{address}}:8080/health' });

function build() {
  const database = z.strictObject({
    host: z.string().min(1),
    port: portSchema.default(5432),
    user: z.string().min(1),
    database: z.string().min(1),
    passwordEnv: envVarNameSchema.optional(),
  });
  const site = z.strictObject({
    name: safeName,
    database,
    fence: z
      .strictObject({
        host: hostSchema,
        command: z.string().min(1),
        dataDir: z.string().regex(/^\/\S*$/, { message: 'an absolute path like /var/lib/postgresql/15/main (where the fence leaves standby.signal)' }).optional(),
        undo: z.string().min(1).optional(),
        reseed: z.string().min(1).optional(),
      }),
    appServers: z
      .strictObject({
        ssh: z
          .strictObject({
            hosts: z.array(hostSchema).min(1, { message: 'add at least one host' }),
            start: z.string().min(1),
            stop: z.string().min(1),
            healthUrl,
          })
          .optional(),
        vultr: z
          .strictObject({
            apiKeyEnv: envVarNameSchema,
            apiUrl: httpUrl('https://api.vultr.com/v2').optional(),
            region: z.string().min(1),
            plan: z.string().min(1),
            snapshotId: z.string().min(1),
            count: z.number().int().min(1).max(100),
            tag: safeName,
            label: safeName.optional(),
            healthUrl,
          })
          .optional(),
      })
      .superRefine((a, ctx) => {
        if (!a.ssh === !a.vultr) ctx.addIssue({ code: 'custom', message: 'give exactly one of ssh: {hosts, start, stop, healthUrl} or vultr: {apiKeyEnv, region, plan, snapshotId, count, tag, healthUrl}' });
      }),
    /** Empty or absent with Vultr app servers: the instances' main IPs. */
    dnsContent: z.array(z.string().min(1)).default([]),
  });
  const nameserver = z.string().transform((v, ctx) => {
    const m = /^([A-Za-z0-9.:_-]+):(\d{1,5})$/.exec(v.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected address:port of the authoritative DNS server, like 127.0.0.1:53, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return { address: m[1]!, port: Number(m[2]) };
  });
  const dns = z.strictObject({
    powerdns: z
      .strictObject({
        apiUrl: httpUrl('http://127.0.0.1:8081'),
        serverId: z.string().min(1).default('localhost'),
        zone: z.string().min(1),
        apiKeyEnv: envVarNameSchema,
        nameserver,
      })
      .optional(),
    vultr: z
      .strictObject({
        apiKeyEnv: envVarNameSchema,
        apiUrl: httpUrl('https://api.vultr.com/v2').optional(),
        domain: z.string().min(1),
        nameserver,
      })
      .optional(),
    name: z.string().min(1),
    type: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
    ttl: durationSchema({ positive: true }).prefault('60s'),
  });
  const probe = z.strictObject({
    url: httpUrl('http://203.0.113.10/health'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    interval: durationSchema({ positive: true }).prefault('5s'),
    timeout: durationSchema({ positive: true }).prefault('2s'),
    failures: z.number().int().min(1).default(3),
  });
  const smoke = z.strictObject({
    url: httpUrl('http://app.example.com/'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    versionHeader: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    bodyContains: z.string().min(1).optional(),
    requests: z.number().int().min(1).default(10),
    watch: durationSchema().prefault('10s'),
    maxErrorRate: z.number().min(0).max(1).default(0.01),
    timeout: durationSchema({ positive: true }).prefault('2s'),
  });
  const gates = z
    .strictObject({
      maxLagBytes: bytesSchema.default(0),
      maxLagSeconds: z.number().nonnegative().default(1),
      unreachablePrimary: z
        .strictObject({ wait: durationSchema().prefault('2m'), then: z.enum(UNREACHABLE_RULES).default('fail') })
        .prefault({}),
    })
    .prefault({});
  const service = z.strictObject({
    primary: site,
    standby: site,
    dns,
    probe,
    smoke,
    gates,
    auto: z.boolean().default(false),
    /** Approver names (as in slackUsers) who may confirm a failover; absent: anyone. */
    confirmers: z.array(z.string().min(1)).min(1, { message: 'name at least one, or leave confirmers out' }).optional(),
    slack: z.strictObject({ channel: z.string().min(1) }).optional(),
    pagerDuty: z.strictObject({ url: httpUrl('https://events.pagerduty.com/v2/enqueue'), routingKeyEnv: envVarNameSchema }).optional(),
  });
  return z.record(safeName, service).superRefine((sites, ctx) => {
    for (const [name, s] of Object.entries(sites)) {
      for (const role of ['primary', 'standby'] as const) {
        if (s[role].appServers.ssh && s[role].dnsContent.length === 0) {
          ctx.addIssue({ code: 'custom', path: [name, role, 'dnsContent'], message: 'the DNS record content while this site serves, e.g. [203.0.113.10] (only Vultr sites may leave it out: then it is their instances\' IPs)' });
        }
      }
      if (s.primary.name === s.standby.name) {
        ctx.addIssue({ code: 'custom', path: [name, 'standby', 'name'], message: `"${s.standby.name}" is also the primary's name; give each site its own` });
      }
      if (!s.dns.name.endsWith('.')) {
        ctx.addIssue({ code: 'custom', path: [name, 'dns', 'name'], message: `write the name fully qualified with its trailing dot, like "${s.dns.name}."` });
      }
      if (!s.dns.powerdns === !s.dns.vultr) {
        ctx.addIssue({ code: 'custom', path: [name, 'dns'], message: 'give exactly one of powerdns: {apiUrl, zone, apiKeyEnv, nameserver} or vultr: {apiKeyEnv, domain, nameserver}' });
      }
      if (s.dns.powerdns && !s.dns.powerdns.zone.endsWith('.')) {
        ctx.addIssue({ code: 'custom', path: [name, 'dns', 'powerdns', 'zone'], message: `write the zone with its trailing dot, like "${s.dns.powerdns.zone}."` });
      }
    }
  });
}

let built: ReturnType<typeof build> | undefined;
export const sitesSchema = z.lazy(() => (built ??= build()));

export type SitesConfig = z.output<typeof sitesSchema>;
type SiteConfig = SitesConfig[string];

function siteSpec(s: SiteConfig['primary']): SiteSpec {
  return {
    name: s.name,
    database: s.database,
    fence: s.fence,
    appServers: s.appServers.ssh
      ? { kind: 'ssh', ...s.appServers.ssh }
      : { kind: 'vultr', ...s.appServers.vultr!, label: s.appServers.vultr!.label ?? `${s.name}-app` },
    dnsContent: s.dnsContent,
  };
}

/** One service of `sites:` as the workflows take it; undefined when there is no such site. */
export function resolveSite(sites: SitesConfig | undefined, name: string, audit = false): FailoverSpec | undefined {
  const s = sites?.[name];
  if (!s) return undefined;
  return failoverSpecSchema.parse({
    site: name,
    primary: siteSpec(s.primary),
    standby: siteSpec(s.standby),
    dns: s.dns.powerdns
      ? { kind: 'powerdns', ...s.dns.powerdns, name: s.dns.name, type: s.dns.type, ttlSeconds: Math.max(1, Math.round(s.dns.ttl / 1000)) }
      : {
          kind: 'vultr',
          ...s.dns.vultr!,
          domain: s.dns.vultr!.domain.replace(/\.$/, ''),
          name: s.dns.name,
          type: s.dns.type,
          ttlSeconds: Math.max(1, Math.round(s.dns.ttl / 1000)),
        },
    probe: { url: s.probe.url, expectStatus: s.probe.expectStatus, intervalMs: s.probe.interval, timeoutMs: s.probe.timeout, failures: s.probe.failures },
    smoke: {
      url: s.smoke.url,
      expectStatus: s.smoke.expectStatus,
      ...(s.smoke.versionHeader ? { versionHeader: s.smoke.versionHeader } : {}),
      ...(s.smoke.version ? { version: s.smoke.version } : {}),
      ...(s.smoke.bodyContains ? { bodyContains: s.smoke.bodyContains } : {}),
      requests: s.smoke.requests,
      watchMs: s.smoke.watch,
      maxErrorRate: s.smoke.maxErrorRate,
      timeoutMs: s.smoke.timeout,
    },
    gates: {
      maxLagBytes: s.gates.maxLagBytes,
      maxLagSeconds: s.gates.maxLagSeconds,
      unreachablePrimary: { waitMs: s.gates.unreachablePrimary.wait, then: s.gates.unreachablePrimary.then },
    },
    auto: s.auto,
    ...(s.confirmers ? { confirmers: s.confirmers } : {}),
    ...(s.slack ? { slack: s.slack } : {}),
    ...(s.pagerDuty ? { pagerDuty: s.pagerDuty } : {}),
    ...(audit ? { audit: true } : {}),
  } satisfies FailoverSpec);
}

export { reversedSpec as reversed } from '../contract/failover';
