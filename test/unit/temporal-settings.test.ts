// How the Temporal connection is resolved: flags > environment variables > cutover.yml >
// Temporal config file profile > defaults, field by field; TLS on when anything asks for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../config/load';
import { connectOptions, describeConnection, resolveTemporal, type TemporalSettings } from '../../config/temporal';
import type { TemporalConfig } from '../../config/schema';

const dir = mkdtempSync(join(tmpdir(), 'cutover-temporal-settings-'));
const home = join(dir, 'home');
mkdirSync(home);
const pem = (name: string, kind = 'CERTIFICATE'): string => {
  const p = join(dir, name);
  writeFileSync(p, `-----BEGIN ${kind}-----\nMIIB\n-----END ${kind}-----\n`);
  return p;
};
const ca = pem('ca.pem');
const profileCa = pem('profile-ca.pem');
const cert = pem('client.pem');
const key = pem('client.key', 'PRIVATE KEY');
const toml = join(dir, 'temporal.toml');
writeFileSync(
  toml,
  [
    '[profile.default]',
    'address = "profile-default:7233"',
    '[profile.cloud]',
    'address = "cloud.example:7233"',
    'namespace = "cloud-ns"',
    'api_key = "profile-key"',
    '[profile.cloud.tls]',
    `server_ca_cert_path = "${profileCa}"`,
    'server_name = "cloud.example"',
    '',
  ].join('\n'),
);
const cutoverYml = join(dir, 'cutover.yml');

const resolveWith = (env: NodeJS.ProcessEnv, temporal?: TemporalConfig, flags: { address?: string; namespace?: string } = {}): Promise<TemporalSettings> =>
  resolveTemporal({ env: { HOME: home, ...env }, flags, ...(temporal ? { file: { temporal, path: cutoverYml } } : {}) });

test('defaults: the local dev server, plaintext', async () => {
  const s = await resolveWith({});
  assert.equal(s.address, '127.0.0.1:7233');
  assert.equal(s.namespace, 'default');
  assert.equal(s.uiUrl, 'http://127.0.0.1:8233');
  assert.equal(s.tls, false);
  assert.equal(s.apiKey, undefined);
  assert.deepEqual(connectOptions(s), { address: '127.0.0.1:7233' });
});

test('the default profile of the Temporal config file applies when nothing else is set', async () => {
  const s = await resolveWith({ TEMPORAL_CONFIG_FILE: toml });
  assert.equal(s.address, 'profile-default:7233');
  assert.deepEqual(s.profile, { name: 'default', file: toml });
});

test("cutover.yml's temporal: section replaces the default profile (a named one still applies)", async () => {
  const s = await resolveWith({ TEMPORAL_CONFIG_FILE: toml }, { uiUrl: 'http://ui:8233' });
  assert.equal(s.address, '127.0.0.1:7233');
  assert.equal(s.profile, undefined);
  const named = await resolveWith({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'default' }, { uiUrl: 'http://ui:8233' });
  assert.equal(named.address, 'profile-default:7233');
});

test('a named profile: address, namespace, API key (which turns TLS on), its TLS settings', async () => {
  const s = await resolveWith({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
  assert.equal(s.address, 'cloud.example:7233');
  assert.equal(s.namespace, 'cloud-ns');
  assert.equal(s.apiKey, 'profile-key');
  assert.ok(s.tls);
  assert.equal(s.tls.serverName, 'cloud.example');
  assert.deepEqual(s.tls.ca, { path: profileCa, origin: { file: toml, path: 'profile.cloud.tls.server_ca_cert_path' } });
  assert.doesNotMatch(describeConnection(s), /profile-key/);
  assert.match(describeConnection(s), /cloud\.example:7233 \(namespace cloud-ns, TLS, API key from .*profile\.cloud\.api_key, profile cloud\)/);
});

test('cutover.yml beats the profile, field by field; relative paths are read from its directory', async () => {
  const s = await resolveWith({ TEMPORAL_CONFIG_FILE: toml }, { profile: 'cloud', address: 'file:7233', tls: { caFile: 'ca.pem' } });
  assert.equal(s.address, 'file:7233');
  assert.equal(s.namespace, 'cloud-ns', 'the profile still gives what the file does not set');
  assert.ok(s.tls);
  assert.deepEqual(s.tls.ca, { path: ca, origin: { file: cutoverYml, path: 'temporal.tls.caFile' } });
  assert.equal(s.tls.serverName, 'cloud.example');
});

test('environment variables beat cutover.yml; flags beat both', async () => {
  const file: TemporalConfig = { address: 'file:7233', namespace: 'file-ns', uiUrl: 'http://file:8233', tls: { caFile: ca, serverName: 'file.name' } };
  const env = { TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns', TEMPORAL_TLS_SERVER_NAME: 'env.name', CUTOVER_UI_URL: 'http://env:8233' };
  const s = await resolveWith(env, file);
  assert.equal(s.address, 'env:7233');
  assert.equal(s.namespace, 'env-ns');
  assert.equal(s.uiUrl, 'http://env:8233');
  assert.ok(s.tls);
  assert.equal(s.tls.serverName, 'env.name');
  assert.equal(s.tls.ca && 'path' in s.tls.ca ? s.tls.ca.path : undefined, ca);
  const f = await resolveWith(env, file, { address: 'flag:7233', namespace: 'flag-ns' });
  assert.equal(f.address, 'flag:7233');
  assert.equal(f.namespace, 'flag-ns');
  const empty = await resolveWith({ TEMPORAL_ADDRESS: ' ' }, file);
  assert.equal(empty.address, 'file:7233', 'an empty variable counts as unset');
});

test('TEMPORAL_PROFILE beats temporal.profile', async () => {
  const s = await resolveWith({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'default' }, { profile: 'cloud' });
  assert.equal(s.address, 'profile-default:7233');
  assert.equal(s.tls, false);
});

test('turning TLS off: TEMPORAL_TLS=false over the file, tls.enabled: false over the profile', async () => {
  assert.equal((await resolveWith({ TEMPORAL_TLS: 'false' }, { tls: { caFile: ca } })).tls, false);
  const off = await resolveWith({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' }, { tls: { enabled: false } });
  assert.equal(off.tls, false);
  assert.equal(off.apiKey, 'profile-key', 'the key is still sent (e.g. to a local proxy that terminates TLS)');
  assert.deepEqual((await resolveWith({ TEMPORAL_TLS: 'true' })).tls, {}, 'TLS with the system CAs');
});

test('an API key alone turns TLS on; TEMPORAL_API_KEY beats apiKeyEnv', async () => {
  const s = await resolveWith({ TEMPORAL_API_KEY: 'k1' });
  assert.deepEqual(s.tls, {});
  assert.deepEqual(connectOptions(s), { address: '127.0.0.1:7233', tls: {}, apiKey: 'k1' });
  const named = await resolveWith({ MY_KEY: 'k2' }, { apiKeyEnv: 'MY_KEY' });
  assert.equal(named.apiKey, 'k2');
  assert.equal(named.apiKeyFrom, 'MY_KEY');
  assert.equal((await resolveWith({ MY_KEY: 'k2', TEMPORAL_API_KEY: 'k1' }, { apiKeyEnv: 'MY_KEY' })).apiKey, 'k1');
});

test('mTLS: the client certificate and key are read; inline PEM from TEMPORAL_TLS_*_DATA works too', async () => {
  const s = await resolveWith({}, { tls: { caFile: ca, certFile: cert, keyFile: key, serverName: 'x.test' } });
  const o = connectOptions(s);
  assert.equal(o.tls?.serverNameOverride, 'x.test');
  assert.match(String(o.tls?.serverRootCACertificate), /BEGIN CERTIFICATE/);
  assert.match(String(o.tls?.clientCertPair?.key), /BEGIN PRIVATE KEY/);
  assert.match(describeConnection(s), /mTLS/);
  const inline = await resolveWith({ TEMPORAL_TLS_SERVER_CA_CERT_DATA: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' });
  assert.match(String(connectOptions(inline).tls?.serverRootCACertificate), /BEGIN CERTIFICATE/);
});

async function refused(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  return err.format();
}

test('bad settings name where they come from', async () => {
  assert.equal(
    await refused(resolveWith({ TEMPORAL_TLS_CLIENT_CERT_PATH: cert })),
    'environment: TEMPORAL_TLS_CLIENT_CERT_PATH: a client certificate needs its key and a key its certificate (mTLS); only the certificate is set',
  );
  assert.match(await refused(resolveWith({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })), /^environment: TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: the Temporal TypeScript SDK 1\.24 cannot skip/);
  assert.equal(await refused(resolveWith({}, { tls: { caFile: 'missing.pem' } })), `${cutoverYml}: temporal.tls.caFile: file not found: ${join(dir, 'missing.pem')}`);
  assert.equal(await refused(resolveWith({ TEMPORAL_CONFIG_FILE: join(dir, 'none.toml') })), `${join(dir, 'none.toml')}: the Temporal config file named by TEMPORAL_CONFIG_FILE does not exist`);
  assert.match(await refused(resolveWith({}, { profile: 'cloud' })), /temporal\.toml: the Temporal config file named by temporal\.profile in cutover\.yml \(profile "cloud"\) does not exist/);
  writeFileSync(join(dir, 'bad.toml'), '[profile.x\naddress = 1');
  assert.match(await refused(resolveWith({ TEMPORAL_CONFIG_FILE: join(dir, 'bad.toml') })), /bad\.toml: cannot read the Temporal config file: /);
  const notPem = join(dir, 'not.pem');
  writeFileSync(notPem, 'nope');
  const s = await resolveWith({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: notPem });
  assert.throws(() => connectOptions(s), (e: unknown) => e instanceof ConfigError && /TEMPORAL_TLS_SERVER_CA_CERT_PATH: .*not\.pem is not a PEM certificate/.test(e.format()));
});
