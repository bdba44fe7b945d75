// The pure command builders, proven where it matters by running what they build in a real shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSafeName, quote, renderPath, renderTemplate, UnsafeInputError } from '../../activities/shell';
import {
  CONFIG_REJECTED_EXIT,
  parseUpstream,
  parseVerifyOutput,
  readUpstreamCommand,
  renderUpstream,
  switchUpstreamCommand,
  verifyThroughRouterCommand,
  judgeVerifyOutput,
} from '../../activities/nginx/commands';
import { healthProbeCommand, installedCheckCommand, parseProbeOutput, startSlotCommand, stopSlotCommand } from '../../activities/slots/commands';
import type { HealthSpec, HostSpec, NginxRouter, SlotsSpec } from '../../contract';

const host: HostSpec = { name: 'web1', address: '10.0.0.5', port: 22, user: 'deploy', privateKeyPath: '/k', hostKey: 'SHA256:AAAA' };
const slots: SlotsSpec = { address: '127.0.0.1', blue: { port: 3005 }, green: { port: 3006 }, start: 'slot start {{color}} {{port}} {{version}}', stop: 'slot stop {{color}}' };
const health: HealthSpec = { path: '/health', expectStatus: 200, timeoutMs: 1500, intervalMs: 1000, attempts: 3 };
const router = (over: Partial<NginxRouter> = {}): NginxRouter => ({
  kind: 'nginx', upstreamFile: '/etc/nginx/conf.d/{{host}}.conf', upstreamName: 'shop_prod', test: 'nginx -t', reload: 'nginx -s reload', url: 'http://127.0.0.1/', ...over,
});
const ports = { blue: 3005, green: 3006 };

const sh = (script: string, input?: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8', input });
const bash = (script: string, input?: string) => spawnSync('bash', ['-c', script], { encoding: 'utf8', input });

test('quote() passes any string through a real shell as one literal word', () => {
  const samples = [
    '', 'plain', 'with space', "it's", "''", '"double"', '$(touch /tmp/pwned)', '`id`', '${HOME}', '$HOME',
    'a\nb', '\n', 'x; rm -rf /', '*', '?', '[a-z]*', '~', '~root', '-n', '--', '\\', '\\n', 'a|b&c>d<e', '#comment',
    'tab\there', 'ünïcødé ✓ 日本語 🚀', '!', '{a,b}', '=', '%s%d', "'$(x)'\"`y`\"",
  ];
  for (const s of samples) {
    const r = sh(`printf %s ${quote(s)}`);
    assert.equal(r.status, 0, `${JSON.stringify(s)}: ${r.stderr}`);
    assert.equal(r.stdout, s, `round trip of ${JSON.stringify(s)}`);
  }
  assert.equal(quote('v1.2.3'), 'v1.2.3', 'plain words stay readable');
  assert.equal(quote(''), "''");
  assert.equal(quote(3005), '3005');
});

test('renderTemplate fills and quotes placeholders, tolerates spaces, names unknown ones', () => {
  assert.equal(renderTemplate('run {{color}} {{port}} {{ version }}', { color: 'blue', port: 3005, version: 'v1' }), 'run blue 3005 v1');
  const out = renderTemplate('printf %s {{x}}', { x: 'a b; touch pwned' });
  assert.equal(out, "printf %s 'a b; touch pwned'");
  assert.equal(sh(out).stdout, 'a b; touch pwned');
  assert.equal(renderTemplate('echo {{v}}', { v: '$&' }), "echo '$&'", 'replacement patterns are not interpreted');
  assert.throws(() => renderTemplate('deploy {{versoin}}', { version: 'v1' }), (e: unknown) => {
    assert.ok(e instanceof UnsafeInputError);
    assert.match(e.message, /\{\{versoin\}\}/);
    assert.match(e.message, /known: \{\{version\}\}/);
    return true;
  });
  assert.equal(renderPath('/etc/{{ host }}.conf', { host: 'web1' }), '/etc/web1.conf');
  assert.throws(() => renderPath('/etc/{{nope}}.conf', { host: 'web1' }), UnsafeInputError);
});

test('assertSafeName refuses anything but a plain name', () => {
  for (const bad of ['v2;touch /tmp/pwned', '../x', '', 'a'.repeat(129), 'v 1', 'v1\n', '$(id)', 'ü', '.', '..', '-rf', '--help', '_x', '.v1', 'v1..2', 'v1..']) {
    assert.throws(() => assertSafeName('version', bad), UnsafeInputError, JSON.stringify(bad));
  }
  assert.throws(() => assertSafeName('version', '..'), {
    message: 'version: ".." is not allowed: it must start with a letter or digit, not "." (a name is 1 to 128 letters, digits, ".", "_" or "-", starts with a letter or digit and has no "..", like v1.2.3 or web-1)',
  });
  assert.throws(() => assertSafeName('version', 'v1..2'), /^UnsafeInputError: version: "v1\.\.2" is not allowed: it must not contain "\.\."/);
  assert.throws(() => assertSafeName('version', 'a'.repeat(129)), /must be at most 128 characters \(it has 129\)/);
  // The case: `..` would have passed `test -d /srv/shop/releases/{{version}}` and reached `slot start`.
  assert.throws(() => installedCheckCommand(host, { ...slots, installed: 'test -d /srv/shop/releases/{{version}}' }, '..'), UnsafeInputError);
  assert.throws(() => startSlotCommand(host, slots, 'green', '..'), UnsafeInputError);
  assert.equal(assertSafeName('version', '1.0.0-rc.1'), '1.0.0-rc.1');
  assert.equal(assertSafeName('version', 'v1.2.3-'), 'v1.2.3-');
  assert.equal(assertSafeName('version', 'v1.2.3-rc_1'), 'v1.2.3-rc_1');
  assert.equal(assertSafeName('version', 'a'.repeat(128)), 'a'.repeat(128));
});

test('renderUpstream / parseUpstream round trip; the server port is the truth', () => {
  for (const address of ['127.0.0.1', '[::1]', 'localhost']) {
    for (const color of ['blue', 'green'] as const) {
      const text = renderUpstream({ upstreamName: 'shop_prod', address, color, version: 'v1.2.3', port: ports[color] });
      assert.match(text, new RegExp(`server ${address.replace(/[[\]]/g, '\\$&')}:${ports[color]};`));
      assert.deepEqual(parseUpstream(text, ports), { color, version: "v1.2.3", port: ports[color], canary: null }, `${address} ${color}`);
    }
  }
  const lying = '# managed by cutover: color=blue version=v9\nupstream shop_prod {\n    server 127.0.0.1:3006;\n}\n';
  assert.deepEqual(parseUpstream(lying, ports), { color: 'green', version: null, port: 3006, canary: null });
  const unknown = '# managed by cutover: color=blue version=v9\nupstream x {\n  server 127.0.0.1:8080;\n}\n';
  assert.deepEqual(parseUpstream(unknown, ports), { color: null, version: null, port: 8080, canary: null });
  assert.deepEqual(parseUpstream('', ports), { color: null, version: null, port: null, canary: null });
  assert.deepEqual(parseUpstream('upstream x {\n  server 127.0.0.1:3005;\n}\n', ports), { color: 'blue', version: null, port: 3005, canary: null });
  assert.throws(() => renderUpstream({ upstreamName: 'x;y', address: '127.0.0.1', color: 'blue', version: 'v1', port: 1 }), UnsafeInputError);
  assert.throws(() => renderUpstream({ upstreamName: 'x', address: '127.0.0.1; evil', color: 'blue', version: 'v1', port: 1 }), UnsafeInputError);
});

test('the colour kept for rollback is an nginx backup server, never read back as the live one', () => {
  const text = renderUpstream({ upstreamName: 'shop_prod', address: '127.0.0.1', color: 'green', version: 'v2', port: 3006, backupPort: 3005 });
  assert.match(text, /server 127\.0\.0\.1:3006;\n\s+server 127\.0\.0\.1:3005 backup;/);
  assert.deepEqual(parseUpstream(text, ports), { color: 'green', version: 'v2', port: 3006, canary: null });
  const backupFirst = '# managed by cutover: color=green version=v2\nupstream u {\n  server 127.0.0.1:3005 backup;\n  server 127.0.0.1:3006;\n}\n';
  assert.equal(parseUpstream(backupFirst, ports).color, 'green');
  assert.doesNotMatch(renderUpstream({ upstreamName: 'u', address: 'a', color: 'blue', version: 'v1', port: 3005, backupPort: 3005 }), /backup/);
});

test('a canary is a second server with its weight; parseUpstream reads its share back', () => {
  const text = renderUpstream({ upstreamName: 'shop_prod', address: '127.0.0.1', color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: 'v2', port: 3006, weight: 5 } });
  assert.match(text, /server 127\.0\.0\.1:3005 weight=95;\n\s+server 127\.0\.0\.1:3006 weight=5;/);
  assert.doesNotMatch(text, /backup/, 'both colours are primary servers during a canary');
  assert.deepEqual(parseUpstream(text, ports), { color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: 'v2', weight: 5 } });
  // The weights are the truth: a marker that lies about the canary gives no version.
  const lying = '# managed by cutover: color=blue version=v1 canary=blue:v9 weight=5\nupstream u {\n  server a:3005 weight=3;\n  server a:3006 weight=1;\n}\n';
  assert.deepEqual(parseUpstream(lying, ports), { color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: null, weight: 25 } });
  // Weight 0 means no canary server at all.
  assert.doesNotMatch(renderUpstream({ upstreamName: 'u', address: 'a', color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: 'v2', port: 3006, weight: 0 } }), /3006/);
  for (const weight of [100, 1.5, -1]) {
    assert.throws(() => renderUpstream({ upstreamName: 'u', address: 'a', color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: 'v2', port: 3006, weight } }), UnsafeInputError, String(weight));
  }
  assert.throws(() => renderUpstream({ upstreamName: 'u', address: 'a', color: 'blue', version: 'v1', port: 3005, canary: { color: 'green', version: 'v2;x', port: 3006, weight: 5 } }), UnsafeInputError);
});

test('readUpstreamCommand prints the file, or nothing on a first deploy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-read-'));
  const r = router({ upstreamFile: join(dir, '{{host}} up.conf') });
  assert.deepEqual([sh(readUpstreamCommand(r, host)).stdout, sh(readUpstreamCommand(r, host)).status], ['', 0]);
  writeFileSync(join(dir, 'web1 up.conf'), 'upstream x {}\n');
  assert.equal(sh(readUpstreamCommand(r, host)).stdout, 'upstream x {}\n');
});

function switchWorld(testCommand: string, old?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-switch-'));
  const file = join(dir, 'shop.upstream.conf');
  if (old !== undefined) writeFileSync(file, old);
  const r = router({ upstreamFile: file, test: testCommand.replace('FILE', file), reload: `touch ${join(dir, 'reloaded')}` });
  const content = renderUpstream({ upstreamName: 'shop_prod', address: '127.0.0.1', color: 'green', version: 'v2', port: 3006 });
  return { dir, file, content, result: bash(switchUpstreamCommand(r, host), content) };
}
const OLD = '# hand-written\nupstream shop_prod { server 127.0.0.1:3005; }\n\n';

test('switchUpstreamCommand: a passing test installs the new file and reloads', () => {
  for (const old of [OLD, undefined]) {
    const w = switchWorld('grep -q upstream FILE', old);
    assert.equal(w.result.status, 0, w.result.stderr);
    assert.equal(readFileSync(w.file, 'utf8'), w.content);
    assert.ok(existsSync(join(w.dir, 'reloaded')), 'reload ran');
    assert.deepEqual(readdirSync(w.dir).sort(), ['reloaded', 'shop.upstream.conf'], 'no temp or backup files left');
  }
});

test('switchUpstreamCommand: a failing test restores the old file byte for byte and does not reload', () => {
  const w = switchWorld('echo "nginx: [emerg] bad config"; false', OLD);
  assert.equal(w.result.status, CONFIG_REJECTED_EXIT);
  assert.match(w.result.stderr, /\[emerg\] bad config/);
  assert.equal(readFileSync(w.file, 'utf8'), OLD);
  assert.equal(existsSync(join(w.dir, 'reloaded')), false, 'reload must not run');
  assert.deepEqual(readdirSync(w.dir), ['shop.upstream.conf']);

  const first = switchWorld('grep -q no-such-text FILE');
  assert.equal(first.result.status, CONFIG_REJECTED_EXIT);
  assert.deepEqual(readdirSync(first.dir), [], 'no file remains when there was none before');
});

test('parseVerifyOutput reads status and version per line, 000 for failures', () => {
  assert.deepEqual(parseVerifyOutput('200 v2\n200 v2\n000 \n503 \n'), [
    { status: 200, version: 'v2' }, { status: 200, version: 'v2' }, { status: 0, version: '' }, { status: 503, version: '' },
  ]);
  assert.deepEqual(parseVerifyOutput('200 v2\r\n\n  \n'), [{ status: 200, version: 'v2' }]);
  assert.deepEqual(parseVerifyOutput(''), []);
});

const verifyOpts = { versionHeader: 'X-App-Version', version: 'v2.0.1', requests: 2, timeoutMs: 2000, settleMs: 0 };

/** Serve `versions` in turn (the last one for ever) as X-App-Version; run `fn` with the URL. */
async function withVersions<T>(versions: string[], fn: (url: string) => Promise<T>): Promise<T> {
  let n = 0;
  const server = createServer((_req, res) => res.writeHead(200, { 'X-App-Version': versions[Math.min(n++, versions.length - 1)]! }).end('ok'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    server.close();
  }
}

const bashAsync = (cmd: string): Promise<string> =>
  new Promise<string>((ok, fail) => execFile('bash', ['-c', cmd], (e, stdout) => (e ? fail(e) : ok(stdout))));

const answers = (out: string): string[] => parseVerifyOutput(out).map((a) => `${a.status} ${a.version}`);

test('verifyThroughRouterCommand: one line per request, also when requests fail', async () => {
  const refused = verifyThroughRouterCommand(router({ url: 'http://127.0.0.1:1/' }), host, { ...verifyOpts, requests: 3, timeoutMs: 500 });
  const r = bash(refused);
  assert.equal(r.status, 0);
  assert.deepEqual(answers(r.stdout), ['0 ', '0 ', '0 '], r.stdout);
  assert.equal(judgeVerifyOutput(parseVerifyOutput(r.stdout), 'v2.0.1', 3), false);

  const out = await withVersions(['v2.0.1'], (url) => bashAsync(verifyThroughRouterCommand(router({ url }), host, verifyOpts)));
  assert.deepEqual(answers(out), ['200 v2.0.1', '200 v2.0.1']);
  assert.equal(judgeVerifyOutput(parseVerifyOutput(out), 'v2.0.1', 2), true);
  // Any header name the config accepts is accepted (and quoted); anything else is refused.
  assert.match(verifyThroughRouterCommand(router(), host, { ...verifyOpts, versionHeader: 'X_App_Version' }), /%header\{X_App_Version\}/);
  assert.throws(() => verifyThroughRouterCommand(router(), host, { ...verifyOpts, versionHeader: "X}' ; touch pwned" }), UnsafeInputError);
  assert.throws(() => verifyThroughRouterCommand(router(), host, { ...verifyOpts, version: "v2'; touch pwned" }), UnsafeInputError);
});

test('verifyThroughRouterCommand: old answers while a reload takes effect are waited out; N in a row are needed', async () => {
  // Old workers answer v1 (twice, then once more between new answers) before the reload settles.
  const mixed = await withVersions(['v1', 'v1', 'v2.0.1', 'v1', 'v2.0.1'], (url) =>
    bashAsync(verifyThroughRouterCommand(router({ url }), host, { ...verifyOpts, requests: 3, settleMs: 2000 })),
  );
  assert.deepEqual(answers(mixed), ['200 v1', '200 v1', '200 v2.0.1', '200 v1', '200 v2.0.1', '200 v2.0.1', '200 v2.0.1']);
  assert.equal(judgeVerifyOutput(parseVerifyOutput(mixed), 'v2.0.1', 3), true);
});

test('verifyThroughRouterCommand: a version never served (the new one died, nginx\'s backup answers) fails after the settle time', async () => {
  const started = Date.now();
  const stale = await withVersions(['v1'], (url) => bashAsync(verifyThroughRouterCommand(router({ url }), host, { ...verifyOpts, settleMs: 500 })));
  assert.ok(Date.now() - started >= 500, 'waited out the settle time');
  assert.deepEqual(answers(stale), Array(2 + 5).fill('200 v1'));
  assert.equal(judgeVerifyOutput(parseVerifyOutput(stale), 'v2.0.1', 2), false);
  // A 5xx carrying the right version is not an answer from it.
  assert.equal(judgeVerifyOutput([{ status: 502, version: 'v2.0.1' }, { status: 200, version: 'v2.0.1' }], 'v2.0.1', 2), false);
});

test('slot commands: start/stop fill the template; health defaults to curl; a custom health wins', () => {
  assert.equal(startSlotCommand(host, slots, 'green', 'v1.2'), 'slot start green 3006 v1.2');
  assert.equal(stopSlotCommand(host, slots, 'blue'), 'slot stop blue');
  assert.throws(() => startSlotCommand(host, slots, 'green', 'v1;reboot'), UnsafeInputError);
  assert.throws(() => stopSlotCommand(host, { ...slots, stop: 'rm {{version}}' }, 'blue'), /\{\{version\}\}/);

  const probe = healthProbeCommand(host, slots, health, 'green', 'v1');
  assert.match(probe, /^curl /);
  assert.match(probe, /--max-time 1\.500 /);
  assert.ok(probe.endsWith(' http://127.0.0.1:3006/health'), probe);
  const viaAddress = healthProbeCommand(host, { ...slots, address: '{{address}}' }, { ...health, path: '/h?x=1&y' }, 'blue', 'v1');
  assert.ok(viaAddress.endsWith(` 'http://10.0.0.5:3005/h?x=1&y'`), viaAddress);

  const custom = healthProbeCommand(host, { ...slots, health: 'check {{color}} {{port}} {{version}} {{host}}' }, health, 'blue', 'v3');
  assert.equal(custom, 'check blue 3005 v3 web1');
  assert.throws(() => healthProbeCommand(host, { ...slots, health: 'check {{version}}' }, health, 'blue', '$(id)'), UnsafeInputError);
});

test('parseProbeOutput reads "<status> <seconds>" and nothing else', () => {
  assert.deepEqual(parseProbeOutput('200 0.012345'), { status: 200, seconds: 0.012345 });
  assert.deepEqual(parseProbeOutput('  503 1.5\n'), { status: 503, seconds: 1.5 });
  assert.deepEqual(parseProbeOutput('000 0.000000'), { status: 0, seconds: 0 });
  for (const junk of ['', 'curl: (7) refused', '20 0.1', 'OK 200 0.1']) assert.equal(parseProbeOutput(junk), null, junk);
});
