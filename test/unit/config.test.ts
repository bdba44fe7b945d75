import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, unclosedOpenings, didYouMean, loadConfig, parseConfig, resolvePlan, summarize } from '../../config/load';
import { parseDuration, unknownPlaceholders } from '../../config/schema';
import { isSshPlan } from '../../contract/plan-kinds';

const EXAMPLE = join(__dirname, '..', '..', 'cutover.example.yml');
const example = readFileSync(EXAMPLE, 'utf8');

/** The example with one exact text replaced (fails loudly if the text is not there). */
function variant(from: string, to: string): string {
  assert.ok(example.includes(from), `example contains ${from}`);
  return example.replace(from, to);
}

function issuesOf(text: string): ConfigError['issues'] {
  try {
    parseConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

function errorsOf(text: string): string[] {
  try {
    parseConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.format().split('\n');
  }
  assert.fail('expected a ConfigError');
}

const minimal = (env: string) => `apps:\n  a:\n    environments:\n      p:\n${env}`;
const minimalEnv = [
  '        hosts: [{ name: h, address: 127.0.0.1, user: u, privateKeyPath: /k, hostKey: "SHA256:abc" }]',
  '        slots: { blue: { port: 1 }, green: { port: 2 }, start: "go {{version}}", stop: stop }',
  '        router: { nginx: { upstreamFile: /etc/x.conf } }',
  '',
].join('\n');

test('the example file loads and summarizes', () => {
  const config = loadConfig(EXAMPLE);
  const { notes, ...counts } = summarize(config);
  assert.deepEqual(counts, { apps: 2, environments: 3, hosts: 5 });
  assert.equal(notes.length, 2, notes.join('\n'));
  assert.equal(config.temporal?.address, '127.0.0.1:7233');
});

test('resolvePlan applies defaults and converts durations', () => {
  const plan = resolvePlan(parseConfig(minimal(minimalEnv)), 'a', 'p');
  assert.ok(isSshPlan(plan));
  assert.equal(plan.platform.hosts[0]?.port, 22);
  assert.equal(plan.platform.slots.address, '127.0.0.1');
  assert.deepEqual(plan.router, {
    kind: 'nginx',
    upstreamFile: '/etc/x.conf',
    upstreamName: 'a_p',
    test: 'nginx -t',
    reload: 'nginx -s reload',
    url: 'http://127.0.0.1/',
  });
  assert.deepEqual(plan.health, { path: '/health', expectStatus: 200, timeoutMs: 500, intervalMs: 1000, attempts: 10 });
  assert.deepEqual(plan.verify, { requests: 5, versionHeader: 'X-App-Version' });
  assert.equal(plan.teardownDelayMs, 60 * 60 * 1000);
  assert.equal(plan.slackChannel, undefined);
});

test('resolvePlan keeps explicit values', () => {
  const config = loadConfig(EXAMPLE);
  const prod = resolvePlan(config, 'shop', 'prod');
  assert.ok(isSshPlan(prod));
  assert.equal(prod.router.upstreamName, 'shop_prod');
  assert.equal(prod.router.reload, 'sudo nginx -s reload');
  assert.equal(prod.slackChannel, '#deploys');
  assert.equal(prod.platform.hosts.length, 2);
  assert.equal(resolvePlan(config, 'shop', 'staging').teardownDelayMs, 5 * 60 * 1000);
  assert.equal(resolvePlan(config, 'blog', 'prod').health.path, '/healthz');
});

test('durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('60m'), 3_600_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
  assert.equal(parseDuration(''), undefined);
  const plan = resolvePlan(
    parseConfig(minimal(minimalEnv + '        healthCheck: { timeout: 2s, interval: 250ms }\n        teardownDelay: 1h\n')),
    'a',
    'p',
  );
  assert.equal(plan.health.timeoutMs, 2000);
  assert.equal(plan.health.intervalMs, 250);
  assert.equal(plan.teardownDelayMs, 3_600_000);
});

test('wrong type names the exact path and shows the value', () => {
  assert.deepEqual(errorsOf(variant('port: 22 ', 'port: abc ')), [
    'cutover.yml: apps.shop.environments.prod.hosts[0].port: expected a number, got "abc"',
  ]);
  assert.deepEqual(errorsOf(variant('address: 10.0.0.6\n            user: deploy', 'address: 10.0.0.6\n            port: abc\n            user: deploy')), [
    'cutover.yml: apps.shop.environments.prod.hosts[1].port: expected a number, got "abc"',
  ]);
});

test('same port for both colours', () => {
  assert.deepEqual(errorsOf(variant('green: { port: 3006 }', 'green: { port: 3005 }')), [
    'cutover.yml: apps.shop.environments.prod.slots.green.port: 3005 is already used by slots.blue.port; give each colour its own port',
  ]);
});

test('unknown keys, with did-you-mean', () => {
  assert.deepEqual(errorsOf(variant('teardownDelay: 60m', 'teardownDelai: 60m')), [
    'cutover.yml: apps.shop.environments.prod: unknown key "teardownDelai" (did you mean "teardownDelay"?)',
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv + '        foo: 1\n')), ['cutover.yml: apps.a.environments.p: unknown key "foo"']);
  assert.equal(didYouMean('helthCheck', ['healthCheck', 'hosts']), 'healthCheck');
  assert.equal(didYouMean('zzz', ['healthCheck', 'hosts']), undefined);
});

test('unknown placeholder names the field', () => {
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('go {{version}}', 'go {{ver}}'))), [
    'cutover.yml: apps.a.environments.p.slots.start: placeholder {{ver}} cannot be used here; allowed: {{version}}, {{color}}, {{port}}, {{host}}, {{address}}',
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('stop: stop }', 'stop: "stop {{version}}" }'))), [
    'cutover.yml: apps.a.environments.p.slots.stop: placeholder {{version}} cannot be used here; allowed: {{color}}, {{port}}, {{host}}, {{address}}',
  ]);
  assert.deepEqual(unknownPlaceholders('{{ color }} {{address}} {{x}}'), ['{{x}}']);
});

test('bad duration', () => {
  assert.deepEqual(errorsOf(variant('timeout: 500ms', 'timeout: soon')), [
    'cutover.yml: apps.shop.environments.prod.healthCheck.timeout: expected a duration like "500ms", "10s", "60m" or "1h", got "soon"',
  ]);
});

test('duplicate host names and address:port', () => {
  assert.deepEqual(errorsOf(variant('name: web2\n            address: 10.0.0.6', 'name: web1\n            address: 10.0.0.5')), [
    'cutover.yml: apps.shop.environments.prod.hosts[1].name: "web1" is already the name of hosts[0]; host names must be unique',
    'cutover.yml: apps.shop.environments.prod.hosts[1].address: 10.0.0.5:22 is already used by hosts[0]; each host needs its own address:port',
  ]);
});

test('no hosts, ports out of range, missing keys, bad formats', () => {
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace(/hosts: \[.*\]/, 'hosts: []'))), [
    'cutover.yml: apps.a.environments.p.hosts: add at least one host',
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('port: 1 }', 'port: 70000 }').replace('port: 2 }', 'port: 0 }'))), [
    'cutover.yml: apps.a.environments.p.slots.blue.port: must be at most 65535, got 70000',
    'cutover.yml: apps.a.environments.p.slots.green.port: must be at least 1, got 0',
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('user: u, ', ''))), [
    'cutover.yml: apps.a.environments.p.hosts[0].user: missing; expected a string',
  ]);
  const rule = '(a name is 1 to 128 letters, digits, ".", "_" or "-", starts with a letter or digit and has no "..", like v1.2.3 or web-1)';
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('name: h,', 'name: "h;rm",'))), [
    `cutover.yml: apps.a.environments.p.hosts[0].name: must not contain ";" ${rule}, got "h;rm"`,
  ]);
  assert.deepEqual(errorsOf('apps:\n  "sh op":\n    environments: {}\n'), [`cutover.yml: apps: app name "sh op" must not contain " " ${rule}`]);
});

test('names shaped like paths or options are refused wherever they would reach a shell', () => {
  const rule = '(a name is 1 to 128 letters, digits, ".", "_" or "-", starts with a letter or digit and has no "..", like v1.2.3 or web-1)';
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('name: h,', 'name: "..",'))), [
    `cutover.yml: apps.a.environments.p.hosts[0].name: must start with a letter or digit, not "." ${rule}, got ".."`,
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('name: h,', 'name: "web..1",'))), [
    `cutover.yml: apps.a.environments.p.hosts[0].name: must not contain ".." ${rule}, got "web..1"`,
  ]);
  assert.deepEqual(errorsOf(minimal(minimalEnv.replace('user: u,', 'user: -oProxyCommand,'))), [
    `cutover.yml: apps.a.environments.p.hosts[0].user: must start with a letter or digit, not "-" ${rule}, got "-oProxyCommand"`,
  ]);
  assert.deepEqual(errorsOf(`apps:\n  "-rf":\n    environments: {}\n`), [`cutover.yml: apps: app name "-rf" must start with a letter or digit, not "-" ${rule}`]);
  assert.deepEqual(errorsOf(`apps:\n  a:\n    environments: { ".": {} }\n`), [
    `cutover.yml: apps.a.environments: environment name "." must start with a letter or digit, not "." ${rule}`,
  ]);
});

test('YAML syntax errors carry line:col; empty and missing files', () => {
  assert.deepEqual(errorsOf('apps:\n  a: [1, 2\n'), [
    'cutover.yml:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (the "[" opened at cutover.yml:2:6 is not closed)',
  ]);
  assert.deepEqual(errorsOf('apps: 1\napps: 2\n'), ['cutover.yml:2:1: YAML syntax error: Map keys must be unique']);
  assert.deepEqual(errorsOf('# nothing here\n'), [
    'cutover.yml: the file is empty; it needs at least `apps:` (see cutover.example.yml)',
  ]);
  assert.deepEqual(errorsOf('- 1\n'), ['cutover.yml: expected a mapping (key: value), got a list']);
  const dir = mkdtempSync(join(tmpdir(), 'cutover-config-'));
  assert.throws(
    () => loadConfig(join(dir, 'cutover.yml')),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.format() === `${join(dir, 'cutover.yml')}: file not found (pass --config or create it; see README)`,
  );
  writeFileSync(join(dir, 'empty.yml'), '');
  assert.throws(() => loadConfig(join(dir, 'empty.yml')), /the file is empty/);
});

test('an unclosed bracket or quote is reported where the parser noticed it and where it opened', () => {
  const text = [
    'apps:',
    '  shop:',
    '    environments:',
    '      prod:',
    '        hosts: [{ name: web1, address: 10.0.0.5, user: deploy,',
    '                  privateKeyPath: /k, hostKey: "SHA256:abc" }',
    '        slots: { blue: { port: 1 }, green: { port: 2 } }',
    '',
  ].join('\n');
  const [issue, ...rest] = issuesOf(text);
  assert.equal(rest.length, 0, JSON.stringify(rest));
  assert.deepEqual(issue!.opened, { char: '[', line: 5, col: 16 });
  assert.ok(issue!.line! > 5, `noticed after the opening line: ${issue!.line}`);
  assert.match(errorsOf(text)[0]!, /^cutover\.yml:\d+:\d+: YAML syntax error: .* \(the "\[" opened at cutover\.yml:5:16 is not closed\)$/);

  assert.deepEqual(errorsOf('apps:\n  shop: { environments: {}\n\nother: 1\n'), [
    'cutover.yml:4:1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a } (the "{" opened at cutover.yml:2:9 is not closed)',
  ]);
  assert.deepEqual(errorsOf('apps:\n  a: "abc\n  b: 1\n'), [
    'cutover.yml:4:1: YAML syntax error: Missing closing "quote (the "\\"" opened at cutover.yml:2:6 is not closed)',
  ]);
  // Closed brackets and escaped quotes are not blamed.
  assert.deepEqual(unclosedOpenings('a: [1, [2, 3]]\nb: { c: "x\\"y", d: \'it\'\'s\' }\n'), []);
  assert.deepEqual(errorsOf('a: [1, 2]\na: 3\n'), ['cutover.yml:2:1: YAML syntax error: Map keys must be unique']);
});

test('unknown app or environment lists the configured ones', () => {
  const config = loadConfig(EXAMPLE);
  assert.throws(
    () => resolvePlan(config, 'nope', 'prod'),
    (err: unknown) => err instanceof ConfigError && err.format() === 'cutover.yml: apps: unknown app "nope"; configured apps: shop, blog',
  );
  assert.throws(
    () => resolvePlan(config, 'shop', 'qa'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.format() ===
        'cutover.yml: apps.shop.environments: unknown environment "qa" for app "shop"; configured environments: prod, staging',
  );
  assert.throws(() => resolvePlan(config, 'toString', 'prod'), /unknown app "toString"/);
});

const withStrategy = (strategy: string) => minimal(`${minimalEnv.trimEnd()}\n        strategy: ${strategy}\n`);

test('a canary strategy maps onto the plan: steps, pauses until promoted, analysis in ms', () => {
  const plan = resolvePlan(loadConfig(EXAMPLE), 'shop', 'prod');
  assert.equal(plan.strategy.kind, 'canary');
  if (plan.strategy.kind !== 'canary') return;
  assert.deepEqual(plan.strategy.steps, [
    { weight: 1, pause: { durationMs: 120_000 } },
    { weight: 5, pause: { durationMs: 300_000 } },
    { weight: 25, pause: { durationMs: 600_000 } },
    { pause: {} },
    { weight: 100 },
  ]);
  assert.deepEqual({ ...plan.strategy.analysis, metrics: plan.strategy.analysis.metrics.map((m) => m.kind) }, {
    intervalMs: 30_000,
    failureLimit: 1,
    inconclusiveLimit: 3,
    metrics: ['prometheus', 'prometheus', 'http'],
  });
  assert.deepEqual(plan.strategy.analysis.metrics[0]?.kind === 'prometheus' && plan.strategy.analysis.metrics[0].failIf, { op: '>', value: 0.01 });
  assert.deepEqual(resolvePlan(parseConfig(withStrategy('{ canary: { steps: [{ weight: 10 }] } }')), 'a', 'p').strategy, {
    kind: 'canary',
    steps: [{ weight: 10 }],
    analysis: { intervalMs: 30_000, failureLimit: 1, inconclusiveLimit: 3, metrics: [] },
  });
  assert.deepEqual(resolvePlan(parseConfig(minimal(minimalEnv)), 'a', 'p').strategy, { kind: 'blueGreen' }, 'blue-green by default');
  assert.deepEqual(resolvePlan(parseConfig(withStrategy('blueGreen')), 'a', 'p').strategy, { kind: 'blueGreen' });
});

test('canary mistakes name their place in the file and the fix', () => {
  const at = 'cutover.yml: apps.a.environments.p.strategy';
  const cases: [string, string][] = [
    ['{ canary: { steps: [{weight: 5}, {weight: 1}] } }', `${at}.canary.steps[1].weight: 1 is less than the step before (5); weights only grow`],
    ['{ canary: { steps: [{}] } }', `${at}.canary.steps[0]: a step needs a weight, a pause, or both`],
    ['{ canary: { steps: [{weight: 5, pause: soon}] } }', `${at}.canary.steps[0].pause: expected a duration like "5m", or {} to wait for cutover promote, got "soon"`],
    ['{ canary: { steps: [{weight: 500}] } }', `${at}.canary.steps[0].weight: must be at most 100, got 500`],
    ['{ canary: { steps: [{weight: 5}], analysis: { intervl: 5s } } }', `${at}.canary.analysis: unknown key "intervl" (did you mean "interval"?)`],
    ['{ canary: { steps: [{weight: 5}], analysis: { metrics: [{ name: e, prometheus: { url: "http://p:9090", query: up }, failIf: "above 1" }] } } }', `${at}.canary.analysis.metrics[0].failIf: expected a comparison like "> 0.01"`],
    ['{ canary: { steps: [{weight: 5}], analysis: { metrics: [{ name: e, prometheus: { url: "http://p:9090", query: up } }] } } }', `${at}.canary.analysis.metrics[0].failIf: a prometheus metric needs failIf`],
    ['{ canary: { steps: [{weight: 5}], analysis: { metrics: [{ name: e }] } } }', `${at}.canary.analysis.metrics[0]: give the metric exactly one of prometheus: {url, query}, http: {url} or cloudwatch: {metric, stat}`],
    ['{ canary: { steps: [{weight: 5}], analysis: { metrics: [{ name: e, http: { url: "http://{{version}}/" } }] } } }', `${at}.canary.analysis.metrics[0].http.url: placeholder {{version}} cannot be used here`],
    ['canary', `${at}.canary: a canary needs its steps`],
    ['{ canaryy: {} }', `${at}: unknown key "canaryy" (did you mean "canary"?)`],
  ];
  for (const [strategy, expected] of cases) {
    const errors = errorsOf(withStrategy(strategy));
    assert.ok(errors.some((e) => e.startsWith(expected)), `${strategy}\n  want: ${expected}\n  got:  ${errors.join('\n        ')}`);
  }
});
