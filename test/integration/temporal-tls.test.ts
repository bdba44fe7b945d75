// The CLI reaching Temporal over TLS, mTLS and with an API key: the dev server behind a real
// TLS-terminating gRPC proxy on loopback, with a test CA made by openssl. Each case runs
// `cutover status` as a process, as CI would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import YAML from 'yaml';
import { startDevServer, type DevServer } from '../../sandbox/devserver';
import { runProcess, type ProcessRun } from '../support/run';
import { WorkerProcess } from '../support/world';
import { makeTestPki, startTlsProxy, type TestPki, type TlsProxy } from '../support/tls-proxy';

const ROOT = join(__dirname, '..', '..');
const WORKER_MAIN = join(ROOT, 'workers', 'main.ts');
const BIN = join(ROOT, 'bin', 'cutover');
const EXAMPLE = readFileSync(join(ROOT, 'cutover.example.yml'), 'utf8');

type Run = ProcessRun;

let dir: string;
let server: DevServer;
let pki: TestPki;
let tls: TlsProxy;
let mtls: TlsProxy;
let keyed: TlsProxy;
const API_KEY = 'test-api-key-1234';

/** Run the CLI with only the environment given (plus PATH), and a HOME with no Temporal config file. */
const cutover = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> =>
  runProcess(BIN, args, cwd, { PATH: process.env.PATH, HOME: join(dir, 'home'), ...env });

/** Start the worker (workers/main.ts, as `npm run worker` does) and wait for it to exit. */
const workerExit = (env: NodeJS.ProcessEnv): Promise<Run> =>
  runProcess(process.execPath, ['--import', 'tsx', WORKER_MAIN], ROOT, { PATH: process.env.PATH, HOME: join(dir, 'home'), ...env }, 60_000);

/** A directory with a cutover.yml: the example's apps, and this `temporal:` section. */
function project(temporal: Record<string, unknown>): string {
  const d = mkdtempSync(join(dir, 'project-'));
  const apps = EXAMPLE.replace(/^temporal:\n(?:[ #].*\n)+/m, '');
  writeFileSync(join(d, 'cutover.yml'), `${YAML.stringify({ temporal })}\n${apps}`);
  return d;
}

const ok = (r: Run): void => {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stdout, /no deploys yet for shop\/prod/);
  assert.equal(r.stderr.replace(/^cutover: compiling .*\n/m, ''), '', 'nothing on stderr (no Node deprecation warning either)');
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cutover-tls-'));
  mkdirSync(join(dir, 'home'));
  pki = makeTestPki(join(dir, 'pki'));
  server = await startDevServer({ dir });
  tls = await startTlsProxy({ upstream: server.address, pki });
  mtls = await startTlsProxy({ upstream: server.address, pki, requireClientCert: true });
  keyed = await startTlsProxy({ upstream: server.address, pki, apiKey: API_KEY });
});

after(async () => {
  await Promise.all([tls?.close(), mtls?.close(), keyed?.close()]);
  await server?.stop();
});

describe('TLS', () => {
  test('status over TLS with the CA from cutover.yml (a path relative to the file)', async () => {
    const d = project({ address: tls.address, tls: { caFile: join('..', relative(dir, pki.ca)) } });
    ok(await cutover(['--config', join(d, 'cutover.yml'), 'status', 'shop', 'prod'], ROOT));
  });

  test('status over TLS configured by TEMPORAL_* variables only, with no cutover.yml', async () => {
    const d = mkdtempSync(join(dir, 'empty-'));
    ok(await cutover(['status', 'shop', 'prod'], d, { TEMPORAL_ADDRESS: tls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca }));
  });

  test('a server certificate from another CA is refused: exit 3, naming the certificate problem and the setting, at once', async () => {
    const d = project({ address: tls.address, tls: { caFile: pki.otherCa } });
    const r = await cutover(['status', 'shop', 'prod'], d);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot connect to Temporal at 127\.0\.0\.1:\d+ \(namespace default, TLS\): the server's certificate is not signed by a CA this client trusts/);
    assert.match(r.stderr, /the CA in temporal\.tls\.caFile \(cutover\.yml\) did not sign it/);
    assert.ok(r.ms < 4000, `refused after ${r.ms} ms, not after a timeout`);
    const json = await cutover(['--json', 'status', 'shop', 'prod'], d);
    assert.equal(json.code, 3);
    assert.match((JSON.parse(json.stdout) as { error: string }).error, /not signed by a CA this client trusts/);
  });

  test('serverName: the certificate is checked against it; a name not in the certificate is refused with exit 3', async () => {
    ok(await cutover(['status', 'shop', 'prod'], project({ address: tls.address, tls: { caFile: pki.ca, serverName: pki.serverName } })));
    const r = await cutover(['status', 'shop', 'prod'], project({ address: tls.address, tls: { caFile: pki.ca, serverName: 'other.cutover.test' } }));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /the server's certificate is not valid for the name this client checks: the name checked is "other\.cutover\.test" \(serverName\)/);
  });

  test('plaintext to a TLS port → exit 3 saying the server may require TLS', async () => {
    const r = await cutover(['status', 'shop', 'prod'], mkdtempSync(join(dir, 'empty-')), { TEMPORAL_ADDRESS: tls.address });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /require TLS/);
  });
});

describe('mTLS', () => {
  test('status with a client certificate from cutover.yml; the server sees it', async () => {
    const before = mtls.clientSubjects.length;
    const d = project({ address: mtls.address, tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } });
    ok(await cutover(['status', 'shop', 'prod'], d));
    assert.ok(mtls.clientSubjects.slice(before).includes('client'), `client certificates seen: ${mtls.clientSubjects.join(', ')}`);
  });

  test('status with a profile of a Temporal config file (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE)', async () => {
    const toml = join(dir, 'temporal.toml');
    writeFileSync(
      toml,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '[profile.secure]',
        `address = "${mtls.address}"`,
        '[profile.secure.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        `client_cert_path = "${pki.clientCert}"`,
        `client_key_path = "${pki.clientKey}"`,
        '',
      ].join('\n'),
    );
    const d = mkdtempSync(join(dir, 'empty-'));
    ok(await cutover(['status', 'shop', 'prod'], d, { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'secure' }));
    // cutover.yml names the profile; its own address beats the profile's.
    ok(await cutover(['status', 'shop', 'prod'], project({ profile: 'secure' }), { TEMPORAL_CONFIG_FILE: toml }));
    const missing = await cutover(['status', 'shop', 'prod'], d, { TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'nope' });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /temporal\.toml: profile\.nope: no such profile \(named by TEMPORAL_PROFILE\); profiles in the file: default, secure/);
  });

  test('no client certificate where the server requires one → exit 3 saying so', async () => {
    const r = await cutover(['status', 'shop', 'prod'], project({ address: mtls.address, tls: { caFile: pki.ca } }));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /the server requires a client certificate \(mTLS\) and none was sent: set temporal\.tls\.certFile\/keyFile/);
    assert.ok(r.ms < 4000, `refused after ${r.ms} ms`);
  });

  test('a client certificate from a CA the server does not trust → exit 3', async () => {
    const r = await cutover(['status', 'shop', 'prod'], project({ address: mtls.address, tls: { caFile: pki.ca, certFile: pki.strangerCert, keyFile: pki.strangerKey } }));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refuses this client's certificate or wants one: check that the server trusts the client certificate in temporal\.tls\.certFile \(cutover\.yml\)/);
  });
});

describe('API key', () => {
  test('TEMPORAL_API_KEY is sent as a bearer token (and turns TLS on)', async () => {
    const from = keyed.authorizations.length;
    ok(await cutover(['status', 'shop', 'prod'], project({ address: keyed.address, tls: { caFile: pki.ca } }), { TEMPORAL_API_KEY: API_KEY }));
    assert.ok(keyed.authorizations.length > from);
    assert.deepEqual([...new Set(keyed.authorizations.slice(from))], [`Bearer ${API_KEY}`]);
  });

  test('temporal.apiKeyEnv names the variable that holds the key; unset, it is refused before connecting (exit 2)', async () => {
    const d = project({ address: keyed.address, tls: { caFile: pki.ca }, apiKeyEnv: 'SHOP_TEMPORAL_KEY' });
    ok(await cutover(['status', 'shop', 'prod'], d, { SHOP_TEMPORAL_KEY: API_KEY }));
    const r = await cutover(['status', 'shop', 'prod'], d);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /SHOP_TEMPORAL_KEY: is not set, and cutover\.yml's temporal\.apiKeyEnv says the Temporal API key is there/);
  });

  test('a missing or wrong key is refused by the server: exit 3, saying so', async () => {
    const d = project({ address: keyed.address, tls: { caFile: pki.ca } });
    for (const env of [{}, { TEMPORAL_API_KEY: 'wrong' }]) {
      const r = await cutover(['status', 'shop', 'prod'], d, env);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /the server refused the credentials \(API key missing or wrong\)/);
      assert.match(r.stderr, /Request unauthorized: (no|wrong) API key/);
    }
    assert.ok(keyed.authorizations.includes(undefined) && keyed.authorizations.includes('Bearer wrong'));
  });
});

describe('bad settings are refused before connecting, naming the field (exit 2)', () => {
  test('a caFile that does not exist: validate and status', async () => {
    const d = project({ address: tls.address, tls: { caFile: 'certs/ca.pem' } });
    for (const args of [['validate'], ['status', 'shop', 'prod']]) {
      const r = await cutover(args, d);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim(), `cutover.yml: temporal.tls.caFile: file not found: ${join(d, 'certs/ca.pem')}`);
    }
  });

  test('a file that is not a PEM certificate, a certFile without keyFile, disableHostVerification', async () => {
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
    const notPem = await cutover(['validate'], project({ tls: { caFile: join(dir, 'not-pem.txt') } }));
    assert.equal(notPem.code, 2);
    assert.match(notPem.stderr, /temporal\.tls\.caFile: .*not-pem\.txt is not a PEM certificate/);
    const half = await cutover(['validate'], project({ tls: { certFile: pki.clientCert } }));
    assert.equal(half.code, 2);
    assert.match(half.stderr, /temporal\.tls\.keyFile: missing: mTLS needs both certFile and keyFile/);
    const skip = await cutover(['validate'], project({ tls: { disableHostVerification: true } }));
    assert.equal(skip.code, 2);
    assert.match(skip.stderr, /temporal\.tls\.disableHostVerification: the Temporal TypeScript SDK 1\.24 cannot skip host verification/);
    const secret = await cutover(['validate'], project({ apiKey: 'abc' }));
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /temporal: unknown key "apiKey" \(did you mean "apiKeyEnv"\?\)/);
  });

  test('a TEMPORAL_TLS_* path that does not exist names the variable', async () => {
    const r = await cutover(['status', 'shop', 'prod'], mkdtempSync(join(dir, 'empty-')), {
      TEMPORAL_ADDRESS: mtls.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'nope.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), `environment: TEMPORAL_TLS_CLIENT_CERT_PATH: file not found: ${join(dir, 'nope.pem')}`);
  });
});

describe('the worker', () => {
  test('with TEMPORAL_API_KEY it polls through a proxy that requires the key, which sees it on every call', async () => {
    const worker = new WorkerProcess(mkdtempSync(join(dir, 'worker-')), {
      TEMPORAL_ADDRESS: keyed.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca,
      TEMPORAL_API_KEY: API_KEY,
      HOME: join(dir, 'home'),
    });
    const from = keyed.authorizations.length;
    try {
      await worker.start();
    } finally {
      await worker.stop();
    }
    assert.match(worker.tail(), /polling task queue cutover on 127\.0\.0\.1:\d+ \(namespace default, TLS, API key from TEMPORAL_API_KEY\)/);
    assert.doesNotMatch(worker.tail(), new RegExp(API_KEY), 'the key itself is never logged');
    const seen = keyed.authorizations.slice(from);
    assert.ok(seen.length > 0);
    assert.deepEqual([...new Set(seen)], [`Bearer ${API_KEY}`]);
  });
});

describe('the worker refuses bad TLS settings and says why', () => {
  test('a server certificate from another CA → exit 3 naming the problem and the variable', async () => {
    const r = await workerExit({ TEMPORAL_ADDRESS: tls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCa });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    assert.match(r.stderr, /cannot connect to Temporal at 127\.0\.0\.1:\d+ \(namespace default, TLS\): the server's certificate is not signed by a CA this client trusts: the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH did not sign it/);
  });

  test('no client certificate where the server requires one → exit 3', async () => {
    const r = await workerExit({ TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    assert.match(r.stderr, /the server requires a client certificate \(mTLS\) and none was sent/);
  });

  test('a missing API key → exit 3; a CUTOVER_METRICS_ADDRESS that is not host:port or is taken → exit 2', async () => {
    const key = await workerExit({ TEMPORAL_ADDRESS: keyed.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca });
    assert.equal(key.code, 3, key.stderr + key.stdout);
    assert.match(key.stderr, /the server refused the credentials \(API key missing or wrong\): set TEMPORAL_API_KEY/);
    const metrics = await workerExit({ TEMPORAL_ADDRESS: tls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca, CUTOVER_METRICS_ADDRESS: 'localhost' });
    assert.equal(metrics.code, 2, metrics.stderr + metrics.stdout);
    assert.equal(metrics.stderr.trim(), 'environment: CUTOVER_METRICS_ADDRESS: expected host:port to listen on, like 127.0.0.1:9464, got "localhost"');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const busy = await workerExit({ TEMPORAL_ADDRESS: tls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.ca, CUTOVER_METRICS_ADDRESS: `127.0.0.1:${port}` });
      assert.equal(busy.code, 2, busy.stderr + busy.stdout);
      assert.match(busy.stderr, new RegExp(`^environment: CUTOVER_METRICS_ADDRESS: cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*Address already in use`));
    } finally {
      taken.close();
    }
  });
});
