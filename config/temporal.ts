// How cutover reaches Temporal, resolved once for the CLI, the worker, the demo and the bench.
// Each setting is taken from the first of these that sets it:
//   flags (--address, --namespace) > environment variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
//   TEMPORAL_API_KEY, TEMPORAL_TLS*, read by @temporalio/envconfig) > cutover.yml `temporal:` >
//   a profile of the Temporal config file (TEMPORAL_PROFILE or `temporal.profile`, in
//   TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml) > defaults (127.0.0.1:7233, plaintext).
// The file's `default` profile applies only when no profile is named and cutover.yml has no
// `temporal:` section: a section says where Temporal is, and a personal default profile (say,
// Temporal Cloud's TLS and key) must not leak into it field by field.
// TLS is on when any of them has a TLS setting or an API key is given, unless one turns it off.
// @temporalio/envconfig is loaded only here, when something connects, so `cutover --help` stays fast.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ClientConfigProfile, ConfigDataSource } from '@temporalio/envconfig';
import { ConfigError, type ConfigIssue } from './load';
import type { TemporalConfig } from './schema';

export const TEMPORAL_DEFAULTS = {
  address: '127.0.0.1:7233',
  namespace: 'default',
  uiUrl: 'http://127.0.0.1:8233',
} as const;

/** Where a setting came from: a file and the path inside it, or an environment variable or flag. */
export interface Origin {
  file: string;
  path: string;
}

/** A PEM given as a file path or inline (TEMPORAL_TLS_*_DATA, `*_data` in a profile). */
export type PemSource = { path: string; origin: Origin } | { data: Uint8Array; origin: Origin };

export interface TlsSettings {
  ca?: PemSource;
  cert?: PemSource;
  key?: PemSource;
  serverName?: string;
}

export interface TemporalSettings {
  address: string;
  namespace: string;
  uiUrl: string;
  /** false: plaintext. */
  tls: TlsSettings | false;
  /** Never printed. */
  apiKey?: string;
  /** Where the API key came from (printed instead of it). */
  apiKeyFrom?: string;
  grpcMeta?: Record<string, string>;
  /** The Temporal config file profile that was applied, if any. */
  profile?: { name: string; file: string };
}

/** cutover.yml's section and where the file is (relative TLS paths are read from its directory). */
export interface FileSection {
  temporal: TemporalConfig | undefined;
  path: string;
}

export interface TemporalSources {
  file?: FileSection;
  env: NodeJS.ProcessEnv;
  flags?: { address?: string | undefined; namespace?: string | undefined };
}

const ENV = 'environment';
const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v.trim() !== '' ? v.trim() : undefined);

/** The address alone, without reading any file: for messages when resolution itself failed. */
export function addressFor(file: TemporalConfig | undefined, env: NodeJS.ProcessEnv, flags: TemporalSources['flags'] = {}): string {
  return nonEmpty(flags.address) ?? nonEmpty(env.TEMPORAL_ADDRESS) ?? file?.address ?? TEMPORAL_DEFAULTS.address;
}

/** The Temporal config file envconfig reads, as it finds it (for messages). */
export function temporalConfigFile(env: NodeJS.ProcessEnv): string {
  const explicit = nonEmpty(env.TEMPORAL_CONFIG_FILE);
  if (explicit) return explicit;
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const base = xdg && isAbsolute(xdg) ? xdg : join(nonEmpty(env.HOME) ?? homedir(), '.config');
  return join(base, 'temporalio', 'temporal.toml');
}

/** Problems with the files cutover.yml's `temporal.tls` names; checked by `cutover validate` and before connecting. */
export function temporalFileIssues(file: FileSection): ConfigIssue[] {
  const tls = file.temporal?.tls;
  if (!tls) return [];
  const issues: ConfigIssue[] = [];
  for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
    const p = tls[field];
    if (p === undefined) continue;
    const problem = pemProblem(resolve(dirname(file.path), p), field === 'keyFile' ? 'PRIVATE KEY' : 'CERTIFICATE');
    if (problem) issues.push({ path: `temporal.tls.${field}`, message: problem });
  }
  return issues;
}

/** Why a PEM file cannot be used, or undefined. */
function pemProblem(path: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${(err as Error).message}`;
  }
  return pemTextProblem(text, kind, path);
}

function pemTextProblem(text: string, kind: 'CERTIFICATE' | 'PRIVATE KEY', what: string): string | undefined {
  const re = kind === 'CERTIFICATE' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/;
  return re.test(text) ? undefined : `${what} is not a PEM ${kind.toLowerCase()} (expected a "-----BEGIN ${kind}-----" block)`;
}

type EnvconfigModule = typeof import('@temporalio/envconfig');

/** Resolve the settings (loads @temporalio/envconfig). Throws ConfigError, naming the file or variable and the field. */
export async function resolveTemporal(sources: TemporalSources): Promise<TemporalSettings> {
  // esbuild's ESM bundle of the CLI hands a CommonJS module to import() as its `default`.
  const loaded = (await import('@temporalio/envconfig')) as EnvconfigModule & { default?: EnvconfigModule };
  const envconfig: EnvconfigModule = typeof loaded.loadClientConfigProfile === 'function' ? loaded : loaded.default!;
  const env = temporalEnv(sources.env);
  const flags = sources.flags ?? {};
  const section = sources.file?.temporal;
  if (sources.file) {
    const issues = temporalFileIssues(sources.file);
    if (issues.length > 0) throw new ConfigError(sources.file.path, issues);
  }
  if (env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true' || env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === '1') {
    throw new ConfigError(ENV, [
      {
        path: 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
        message: "the Temporal TypeScript SDK 1.24 cannot skip host verification; unset it and set TEMPORAL_TLS_SERVER_NAME to a name in the server's certificate",
      },
    ]);
  }

  const profile = loadProfile(envconfig, env, section?.profile, section !== undefined);
  const fromEnv = envconfig.loadClientConfigProfile({ disableFile: true, overrideEnvVars: env });
  const fileTls = section?.tls && section.tls.enabled !== false ? fileTlsLayer(section.tls, sources.file!.path) : undefined;

  const apiKey = apiKeyOf(fromEnv, section, sources.env, profile);
  const disabled = fromEnv.tls?.disabled ?? (section?.tls !== undefined ? section.tls.enabled === false : undefined) ?? profile?.settings.tls?.disabled;
  const wantsTls = fromEnv.tls !== undefined || section?.tls !== undefined || profile?.settings.tls !== undefined || apiKey !== undefined;
  const tls: TlsSettings | false =
    disabled === true || !wantsTls ? false : mergeTls([envTlsLayer(fromEnv), fileTls, profile && profileTlsLayer(profile.settings, profile.name, profile.file)]);

  const grpcMeta = { ...profile?.settings.grpcMeta, ...fromEnv.grpcMeta };
  return {
    address: nonEmpty(flags.address) ?? fromEnv.address ?? section?.address ?? profile?.settings.address ?? TEMPORAL_DEFAULTS.address,
    namespace: nonEmpty(flags.namespace) ?? fromEnv.namespace ?? section?.namespace ?? profile?.settings.namespace ?? TEMPORAL_DEFAULTS.namespace,
    uiUrl: nonEmpty(sources.env.CUTOVER_UI_URL) ?? section?.uiUrl ?? TEMPORAL_DEFAULTS.uiUrl,
    tls,
    ...(apiKey ? { apiKey: apiKey.value, apiKeyFrom: apiKey.from } : {}),
    ...(Object.keys(grpcMeta).length > 0 ? { grpcMeta } : {}),
    ...(profile ? { profile: { name: profile.name, file: profile.file } } : {}),
  };
}

/** The TEMPORAL_* variables that are set to something (an empty one counts as unset, as before). */
function temporalEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('TEMPORAL_') && nonEmpty(v) !== undefined) out[k] = v!.trim();
  }
  return out;
}

interface LoadedProfile {
  name: string;
  file: string;
  settings: ClientConfigProfile;
}

/**
 * The profile of the Temporal config file: the one named by TEMPORAL_PROFILE or `temporal.profile`
 * (an error if it or its file is missing), else `default` if the file has one and cutover.yml has
 * no `temporal:` section.
 */
function loadProfile(envconfig: EnvconfigModule, env: Record<string, string>, fromFile: string | undefined, hasSection: boolean): LoadedProfile | undefined {
  const named = env.TEMPORAL_PROFILE ?? fromFile;
  if (named === undefined && hasSection) return undefined;
  const namedBy = env.TEMPORAL_PROFILE !== undefined ? 'TEMPORAL_PROFILE' : 'temporal.profile in cutover.yml';
  const file = temporalConfigFile(env);
  if (!existsSync(file)) {
    if (named !== undefined || env.TEMPORAL_CONFIG_FILE !== undefined) {
      const by = env.TEMPORAL_CONFIG_FILE !== undefined ? 'TEMPORAL_CONFIG_FILE' : `${namedBy} (profile "${named}")`;
      throw new ConfigError(file, [{ path: '', message: `the Temporal config file named by ${by} does not exist` }]);
    }
    return undefined;
  }
  let profiles: Record<string, ClientConfigProfile>;
  try {
    profiles = envconfig.loadClientConfig({ configSource: { path: file } }).profiles;
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the Temporal config file: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const name = named ?? 'default';
  const settings = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  if (!settings) {
    if (named === undefined) return undefined;
    const known = Object.keys(profiles).join(', ') || 'none';
    throw new ConfigError(file, [{ path: `profile.${name}`, message: `no such profile (named by ${namedBy}); profiles in the file: ${known}` }]);
  }
  return { name, file, settings };
}

function apiKeyOf(
  fromEnv: ClientConfigProfile,
  section: TemporalConfig | undefined,
  env: NodeJS.ProcessEnv,
  profile: LoadedProfile | undefined,
): { value: string; from: string } | undefined {
  if (fromEnv.apiKey !== undefined) return { value: fromEnv.apiKey, from: 'TEMPORAL_API_KEY' };
  if (section?.apiKeyEnv !== undefined) {
    const value = nonEmpty(env[section.apiKeyEnv]);
    if (value === undefined) {
      throw new ConfigError(ENV, [
        { path: section.apiKeyEnv, message: `is not set, and cutover.yml's temporal.apiKeyEnv says the Temporal API key is there` },
      ]);
    }
    return { value, from: section.apiKeyEnv };
  }
  if (profile?.settings.apiKey !== undefined) return { value: profile.settings.apiKey, from: `${profile.file}: profile.${profile.name}.api_key` };
  return undefined;
}

type TlsLayer = TlsSettings;

function fromSource(source: ConfigDataSource | undefined, origin: Origin): PemSource | undefined {
  if (source === undefined) return undefined;
  if ('path' in source) return { path: source.path, origin };
  return { data: typeof source.data === 'string' ? new TextEncoder().encode(source.data) : source.data, origin };
}

/** A layer with only the settings it has. */
function layer(l: { ca: PemSource | undefined; cert: PemSource | undefined; key: PemSource | undefined; serverName: string | undefined }): TlsLayer {
  const out: TlsLayer = {};
  if (l.ca) out.ca = l.ca;
  if (l.cert) out.cert = l.cert;
  if (l.key) out.key = l.key;
  if (l.serverName !== undefined) out.serverName = l.serverName;
  return out;
}

/** envconfig's TLS settings (from TEMPORAL_TLS_* or a profile), each labelled with where it came from. */
function envconfigTlsLayer(p: ClientConfigProfile, origin: (source: ConfigDataSource | undefined, field: 'server_ca_cert' | 'client_cert' | 'client_key') => Origin): TlsLayer | undefined {
  const t = p.tls;
  if (!t) return undefined;
  return layer({
    ca: fromSource(t.serverCACert, origin(t.serverCACert, 'server_ca_cert')),
    cert: fromSource(t.clientCert, origin(t.clientCert, 'client_cert')),
    key: fromSource(t.clientKey, origin(t.clientKey, 'client_key')),
    serverName: t.serverName,
  });
}

const isPath = (source: ConfigDataSource | undefined): boolean => source !== undefined && 'path' in source;

const envTlsLayer = (p: ClientConfigProfile): TlsLayer | undefined =>
  envconfigTlsLayer(p, (source, field) => ({ file: ENV, path: `TEMPORAL_TLS_${field.toUpperCase()}_${isPath(source) ? 'PATH' : 'DATA'}` }));

const profileTlsLayer = (p: ClientConfigProfile, name: string, file: string): TlsLayer | undefined =>
  envconfigTlsLayer(p, (source, field) => ({ file, path: `profile.${name}.tls.${field}_${isPath(source) ? 'path' : 'data'}` }));

function fileTlsLayer(t: NonNullable<TemporalConfig['tls']>, configPath: string): TlsLayer {
  const at = (field: string, p: string | undefined): PemSource | undefined =>
    p === undefined ? undefined : { path: resolve(dirname(configPath), p), origin: { file: configPath, path: `temporal.tls.${field}` } };
  return layer({ ca: at('caFile', t.caFile), cert: at('certFile', t.certFile), key: at('keyFile', t.keyFile), serverName: t.serverName });
}

/** Field by field, the first layer that sets it; a client certificate and its key come as a pair. */
function mergeTls(layers: (TlsLayer | undefined)[]): TlsSettings {
  const present = layers.filter((l): l is TlsLayer => l !== undefined);
  const first = <K extends keyof TlsLayer>(k: K): TlsLayer[K] => present.find((l) => l[k] !== undefined)?.[k];
  const out: TlsSettings = {};
  const ca = first('ca');
  const cert = first('cert');
  const key = first('key');
  const serverName = first('serverName');
  if (ca) out.ca = ca;
  if ((cert === undefined) !== (key === undefined)) {
    const set = (cert ?? key)!;
    throw new ConfigError(set.origin.file, [
      { path: set.origin.path, message: `a client certificate needs its key and a key its certificate (mTLS); only ${cert ? 'the certificate' : 'the key'} is set` },
    ]);
  }
  if (cert && key) {
    out.cert = cert;
    out.key = key;
  }
  if (serverName !== undefined) out.serverName = serverName;
  return out;
}

/** The options both the client's Connection and the worker's NativeConnection take. */
export interface ConnectOptions {
  address: string;
  tls?: { serverNameOverride?: string; serverRootCACertificate?: Buffer; clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Read the PEM files and build the connection options. Throws ConfigError naming the field that is wrong. */
export function connectOptions(s: TemporalSettings): ConnectOptions {
  const opts: ConnectOptions = { address: s.address };
  if (s.tls) {
    const tls: NonNullable<ConnectOptions['tls']> = {};
    if (s.tls.serverName !== undefined) tls.serverNameOverride = s.tls.serverName;
    if (s.tls.ca) tls.serverRootCACertificate = readPem(s.tls.ca, 'CERTIFICATE');
    if (s.tls.cert && s.tls.key) tls.clientCertPair = { crt: readPem(s.tls.cert, 'CERTIFICATE'), key: readPem(s.tls.key, 'PRIVATE KEY') };
    opts.tls = tls;
  }
  if (s.apiKey !== undefined) opts.apiKey = s.apiKey;
  if (s.grpcMeta) opts.metadata = s.grpcMeta;
  return opts;
}

function readPem(source: PemSource, kind: 'CERTIFICATE' | 'PRIVATE KEY'): Buffer {
  let buf: Buffer;
  if ('data' in source) buf = Buffer.from(source.data);
  else {
    const problem = pemProblem(source.path, kind);
    if (problem) throw new ConfigError(source.origin.file, [{ path: source.origin.path, message: problem }]);
    buf = readFileSync(source.path);
  }
  const problem = pemTextProblem(buf.toString('utf8'), kind, 'the value');
  if (problem) throw new ConfigError(source.origin.file, [{ path: source.origin.path, message: problem }]);
  return buf;
}

/**
 * A dev server this process started itself (the demo, the benchmarks): resolved like any other,
 * but without the shell's TEMPORAL_* variables and profiles, which may point at a real cluster.
 */
export async function localTemporal(address: string): Promise<ConnectOptions> {
  return connectOptions(await resolveTemporal({ env: {}, file: { temporal: { address }, path: 'local dev server' } }));
}

/** One line for logs: where, which namespace, how secured (never the key). */
export function describeConnection(s: TemporalSettings): string {
  const how = !s.tls ? 'plaintext' : s.tls.cert ? 'mTLS' : 'TLS';
  const parts = [`namespace ${s.namespace}`, how];
  if (s.apiKeyFrom) parts.push(`API key from ${s.apiKeyFrom}`);
  if (s.profile) parts.push(`profile ${s.profile.name}`);
  return `${s.address} (${parts.join(', ')})`;
}
