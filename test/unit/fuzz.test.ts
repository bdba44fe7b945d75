// Property tests: hostile names never reach a shell unquoted, quote() survives any string, and the
// config loader answers any input with a ConfigError (never a crash). Deterministic seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { assertSafeName, quote, UnsafeInputError } from '../../activities/shell';
import { readUpstreamCommand, renderUpstream, switchUpstreamCommand, verifyThroughRouterCommand } from '../../activities/nginx/commands';
import { healthProbeCommand, installedCheckCommand, startSlotCommand, stopSlotCommand } from '../../activities/slots/commands';
import { ConfigError, formatPath, parseConfig } from '../../config/load';
import { checkNames } from '../../starters/config-file';
import { CliError } from '../../starters/output';
import { deployRequestSchema, SAFE_NAME, SAFE_NAME_RULE, safeName as safeNameSchema, type HealthSpec, type HostSpec, type NginxRouter, type SlotsSpec } from '../../contract';

const SEED = 20240607;
const runs = (numRuns: number) => ({ numRuns, seed: SEED });

const host: HostSpec = { name: 'web1', address: '10.0.0.5', port: 22, user: 'deploy', privateKeyPath: '/k', hostKey: 'SHA256:AAAA' };
const slots: SlotsSpec = { address: '127.0.0.1', blue: { port: 3005 }, green: { port: 3006 }, start: "printf '%s\\n' {{version}}", stop: 'stop {{color}}' };
const health: HealthSpec = { path: '/health', expectStatus: 200, timeoutMs: 500, intervalMs: 1000, attempts: 3 };
const router: NginxRouter = { kind: 'nginx', upstreamFile: '/etc/nginx/{{host}}.conf', upstreamName: 'shop', test: 'nginx -t', reload: 'nginx -s reload', url: 'http://127.0.0.1/' };

const sh = (script: string, opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync('sh', ['-c', script], { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env });

const SAFE_CHARS = 'abcxyzABCXYZ0189._-'.split('');
const LEAD_CHARS = 'abzABZ019'.split('');
const META = `'"$\`\\;|&<>(){}[]*?~!# \n\t=%/.-_`.split('').concat(['a', 'Z', '0', 'ü', '日', '🚀', '$(touch pwned)', '`touch pwned`']);
/** Names the rule allows: a letter or digit first, then letters, digits, ".", "_", "-", never "..". */
const safeName = fc
  .tuple(fc.constantFrom(...LEAD_CHARS), fc.string({ unit: fc.constantFrom(...SAFE_CHARS), maxLength: 127 }))
  .map(([first, rest]) => `${first}${rest}`.replace(/\.{2,}/g, '.'));
/** Made of allowed characters, but shaped like a path or an option: `.`, `..`, `-rf`, `_x`, `v1/../x`'s `..`. */
const trickyName = fc.oneof(
  fc.constantFrom('.', '..', '...', '-', '--', '-rf', '--version', '_', '_x', '.hidden', '..v1', 'v1..', 'v1..2', 'a.-..b'),
  fc.tuple(fc.constantFrom('.', '..', '-', '--', '_', '-.', '._'), safeName).map(([lead, rest]) => `${lead}${rest}`.slice(0, 128)),
  fc.tuple(safeName, safeName).map(([a, b]) => `${a}..${b}`.slice(0, 128)),
  fc.string({ unit: fc.constantFrom('.', '-', '_', 'a', '1'), minLength: 1, maxLength: 6 }),
);
/** Anything a CI variable or a typo could hold, biased towards what a shell finds interesting. */
const anyName = fc.oneof(
  safeName,
  trickyName,
  fc.string({ unit: fc.constantFrom(...META), maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', 'a'.repeat(129), '../x', 'v2;touch /tmp/pwned', '-rf', 'v1\n', ' v1'),
);
/** The rule, written out independently of SAFE_NAME: the oracle the checks are held to. */
const isSafe = (v: string): boolean =>
  v.length >= 1 && v.length <= 128 && [...v].every((c) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-'.includes(c)) && /^[A-Za-z0-9]/.test(v) && !v.includes('..');
const noNul = (s: string) => !s.includes('\0');

test('a name is either refused or a plain name, and a refused version never yields a command', () => {
  const safeProbe = healthProbeCommand(host, slots, health, 'green', 'v1');
  fc.assert(
    fc.property(anyName, (v) => {
      let refused = false;
      try {
        assertSafeName('version', v);
      } catch (err) {
        assert.ok(err instanceof UnsafeInputError);
        refused = true;
      }
      assert.equal(refused, !isSafe(v), JSON.stringify(v));
      assert.equal(SAFE_NAME.test(v), !refused);
      // The same rule at the edges: the request schema the workflows parse, and the CLI's check.
      assert.equal(safeNameSchema.safeParse(v).success, !refused);
      assert.equal(deployRequestSchema.shape.version.safeParse(v).success, !refused);
      let cliRefused = false;
      try {
        checkNames({ version: v });
      } catch (err) {
        assert.ok(err instanceof CliError && err.exitCode === 2);
        assert.ok(err.message.startsWith(`version: ${JSON.stringify(v)} is not allowed: it must `), err.message);
        assert.ok(err.message.includes(SAFE_NAME_RULE), err.message);
        cliRefused = true;
      }
      assert.equal(cliRefused, refused);
      if (!refused) return;
      // Every builder that takes a version throws before building anything.
      assert.throws(() => startSlotCommand(host, slots, 'blue', v), UnsafeInputError);
      assert.throws(() => installedCheckCommand(host, { ...slots, installed: 'test -d /srv/{{version}}' }, v), UnsafeInputError);
      assert.throws(
        () => verifyThroughRouterCommand(router, host, { versionHeader: 'X-App-Version', version: v, requests: 1, timeoutMs: 500, settleMs: 0 }),
        UnsafeInputError,
      );
      assert.throws(() => healthProbeCommand(host, { ...slots, health: 'check {{version}}' }, health, 'blue', v), UnsafeInputError);
      assert.throws(() => renderUpstream({ upstreamName: 'shop', address: '127.0.0.1', color: 'blue', version: v, port: 3005 }), UnsafeInputError);
      assert.throws(() => renderUpstream({ upstreamName: v, address: '127.0.0.1', color: 'blue', version: 'v1', port: 3005 }), UnsafeInputError);
      // The default HTTP probe does not use the version at all: same command as for a good one.
      assert.equal(healthProbeCommand(host, slots, health, 'green', v), safeProbe);
    }),
    runs(300),
  );
});

test('a safe version reaches the start and installed commands as exactly one word', () => {
  fc.assert(
    fc.property(safeName, (v) => {
      const r = sh(startSlotCommand(host, slots, 'green', v));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${v}\n`);
      const installed = sh(installedCheckCommand(host, { ...slots, installed: "printf '%s\\n' {{version}}" }, v));
      assert.equal(installed.stdout, `${v}\n`);
    }),
    runs(100),
  );
});

test('a host name is refused by every host command builder unless it is a plain name, which reaches them as one word', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-fuzz-'));
  const files = join(dir, 'files');
  const bin = join(dir, 'bin');
  mkdirSync(files);
  mkdirSync(bin);
  // A stand-in curl that prints the URL it was given, with a terminator so trailing newlines survive $().
  writeFileSync(join(bin, 'curl'), '#!/bin/sh\nfor a; do last=$a; done\nprintf "%s|" "$last"\n');
  chmodSync(join(bin, 'curl'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  fc.assert(
    fc.property(anyName, (name) => {
      const h = { ...host, name };
      const sw = { ...router, upstreamFile: join(dir, 'up.conf'), test: 'printf %s {{host}} >/dev/null', reload: "printf '%s\\n' {{host}}" };
      const verifyOpts = { versionHeader: 'X-App-Version', version: 'v1', requests: 1, timeoutMs: 500, settleMs: 0 };
      if (!isSafe(name)) {
        const refused = (e: unknown) => e instanceof UnsafeInputError && e.message.startsWith(`host name: ${JSON.stringify(name)} is not allowed`);
        assert.throws(() => stopSlotCommand(h, slots, 'blue'), refused);
        assert.throws(() => readUpstreamCommand({ ...router, upstreamFile: join(files, '{{host}}') }, h), refused);
        assert.throws(() => switchUpstreamCommand(sw, h), refused);
        assert.throws(() => verifyThroughRouterCommand(router, h, verifyOpts), refused);
        return;
      }
      const stop = sh(stopSlotCommand(h, { ...slots, stop: "printf '%s\\n' {{host}} {{color}}" }, 'blue'));
      assert.equal(stop.stdout, `${name}\nblue\n`);

      const file = join(files, name);
      writeFileSync(file, 'upstream x {}\n');
      const read = sh(readUpstreamCommand({ ...router, upstreamFile: join(files, '{{host}}') }, h));
      rmSync(file);
      assert.equal(read.stdout, 'upstream x {}\n');

      const switched = sh(switchUpstreamCommand(sw, h), { input: 'upstream y {}\n' });
      assert.equal(switched.status, 0, switched.stderr);
      assert.equal(switched.stdout, `${name}\n`);

      const verify = sh(verifyThroughRouterCommand({ ...router, url: 'http://x/{{host}}' }, h, verifyOpts), { env });
      assert.equal(verify.stdout, `http://x/${name}|\n`);
      assert.deepEqual(readdirSync(files), [], 'nothing was created by the name');
    }),
    runs(200),
  );
  assert.equal(readFileSync(join(dir, 'up.conf'), 'utf8'), 'upstream y {}\n');
  assert.deepEqual(readdirSync(dir).sort(), ['bin', 'files', 'up.conf'], 'no stray files (pwned, temp, backup)');
});

test('quote(s) survives a real shell for any string', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(...META) })).filter(noNul), (s) => {
      const r = sh(`printf %s ${quote(s)}`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, s);
    }),
    runs(100),
  );
});

// ---- the config loader ------------------------------------------------------------------

function issuesOf(text: string): ConfigError | null {
  try {
    parseConfig(text);
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) assert.fail(`not a ConfigError: ${String((err as Error)?.stack ?? err)}\n--- input:\n${text}`);
    assert.ok(err.issues.length > 0, 'a ConfigError has issues');
    for (const i of err.issues) assert.ok(i.path !== '' || i.message.trim() !== '', 'every issue says where or what');
    assert.ok(err.format().trim() !== '');
    return err;
  }
}

const YAMLISH = [
  'apps', 'environments', 'prod', 'hosts', 'slots', 'router', 'nginx', 'port', 'name', ':', ': ', ' ', '  ', '\n', '- ', '-',
  '{', '}', '[', ']', ', ', '"', "'", '&a ', '*a', '!!str ', '!!int ', '!!map', '#', '1', '3005', 'null', '~', '|', '>',
  '? ', '%YAML 1.2\n', '---\n', '...\n', '<<: ', '__proto__', 'constructor', '{{version}}', '1h', '\t', 'true', '.inf', '0x1F',
];

test('YAML aliases that toJS refuses (unresolved, alias bomb) are ConfigErrors too', () => {
  const bomb = ['a: &a [x, x]', `b: &b [${'*a, '.repeat(9)}*a]`, `c: &c [${'*b, '.repeat(9)}*b]`, `d: [${'*c, '.repeat(9)}*c]`, ''].join('\n');
  for (const text of ['*a', 'apps: *nowhere\n', bomb]) assert.ok(issuesOf(text), JSON.stringify(text));
});

test('any YAML-ish text gives a config or a ConfigError, never a crash', () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...YAMLISH), maxLength: 60 }), (text) => void issuesOf(text)), runs(300));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => void issuesOf(text)), runs(300));
});

test('any JSON value written as YAML gives a config or a ConfigError', () => {
  const json = fc.jsonValue({ maxDepth: 4 });
  fc.assert(fc.property(json, (v) => void issuesOf(stringify(v))), runs(300));
  fc.assert(fc.property(json, (v) => void issuesOf(stringify({ apps: v }))), runs(300));
  fc.assert(fc.property(json, (v) => void issuesOf(stringify({ apps: { a: { environments: { p: v } } } }))), runs(300));
});

test('a name in the config file (app, environment, host, user) is refused exactly when the rule refuses it, at its path', () => {
  const example = parse(readFileSync(join(__dirname, '..', '..', 'cutover.example.yml'), 'utf8')) as {
    apps: Record<string, { environments: Record<string, { hosts: { name: string; user: string }[] }> }>;
  };
  const { prod } = example.apps.shop!.environments;
  const places: { path: string; set: (v: string) => unknown }[] = [
    { path: 'apps', set: (v) => ({ ...example, apps: { [v]: example.apps.shop } }) },
    { path: 'apps.shop.environments', set: (v) => ({ ...example, apps: { shop: { environments: { [v]: prod } } } }) },
    { path: 'apps.shop.environments.prod.hosts[0].name', set: (v) => setAt(example, ['apps', 'shop', 'environments', 'prod', 'hosts', 0, 'name'], v) },
    { path: 'apps.shop.environments.prod.hosts[0].user', set: (v) => setAt(example, ['apps', 'shop', 'environments', 'prod', 'hosts', 0, 'user'], v) },
  ];
  fc.assert(
    fc.property(fc.nat(places.length - 1), anyName.filter((v) => v !== 'web2' && !['__proto__', 'constructor'].includes(v)), (i, v) => {
      const place = places[i]!;
      const err = issuesOf(stringify(place.set(v)));
      const named = err?.issues.filter((x) => x.path === place.path && x.message.includes(SAFE_NAME_RULE)) ?? [];
      assert.equal(named.length > 0, !isSafe(v), `${place.path} = ${JSON.stringify(v)}: ${err?.format() ?? 'accepted'}`);
    }),
    runs(300),
  );
});

type Path = (string | number)[];
function leaves(node: unknown, path: Path = []): Path[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => leaves(v, [...path, i]));
  if (node !== null && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [path];
}
function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
  return copy;
}

test('one mutated leaf of the example: still valid, or a ConfigError that names where', () => {
  const example: unknown = parse(readFileSync(join(__dirname, '..', '..', 'cutover.example.yml'), 'utf8'));
  assert.equal(issuesOf(stringify(example)), null, 'the example itself is valid');
  const paths = leaves(example);
  assert.ok(paths.length > 40);
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.string(),
    fc.integer(),
    fc.constantFrom('', '{{nope}}', '{{ version }}', '1h', 'forever', -1, 0, 1.5, 65536, 3006, 'web2', 'http://x', null, true, [], {}),
  );
  fc.assert(
    fc.property(fc.nat(paths.length - 1), value, (i, v) => {
      const path = paths[i]!;
      const err = issuesOf(stringify(setAt(example, path, v)));
      if (!err) return;
      // Where it went wrong is named: inside the mutated app/environment (or top-level section).
      const where = formatPath(path.slice(0, Math.min(4, path.length - 1)));
      assert.ok(
        err.issues.some((x) => x.path.startsWith(where)),
        `mutating ${formatPath(path)} to ${JSON.stringify(v)}: no issue under ${where}:\n${err.format()}`,
      );
      assert.ok(err.format().includes(`: ${where}`), err.format());
    }),
    runs(300),
  );
});
