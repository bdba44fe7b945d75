// Reading `cutover.yml`: YAML → zod → Config, errors as one readable line each, and the
// resolution of one (app, environment) into the Plan the workflows run.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, Parser } from 'yaml';
import type { z } from 'zod';
import { planSchema, type Plan } from '../contract/spec';
import { albRouter, awsPlatform } from './aws';
import { configSchema, type Config, type EnvironmentConfig } from './schema';

export interface ConfigIssue {
  /** Dotted path into the file, e.g. `apps.shop.environments.prod.hosts[1].port`; '' for the file itself. */
  path: string;
  message: string;
  /** 1-based position, for YAML syntax errors. */
  line?: number;
  col?: number;
  /** Where the bracket or quote that was never closed opens, when that caused the syntax error. */
  opened?: { char: string; line: number; col: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'));
  }

  /** One line per issue: `cutover.yml: apps.shop.environments.prod.hosts[1].port: expected a number, got "abc"`. */
  format(): string {
    return this.issues.map((i) => formatIssue(this.file, i)).join('\n');
  }
}

function formatIssue(file: string, i: ConfigIssue): string {
  const where = i.line !== undefined ? `${file}:${i.line}:${i.col ?? 1}` : file;
  const opened = i.opened ? ` (the ${JSON.stringify(i.opened.char)} opened at ${file}:${i.opened.line}:${i.opened.col} is not closed)` : '';
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}${opened}`;
}

/** Read, parse and validate a config file. Throws ConfigError. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'file not found (pass --config or create it; see README)'
        : `cannot read the file: ${(err as Error).message}`;
    throw new ConfigError(path, [{ path: '', message }]);
  }
  return parseConfig(text, path);
}

/** Parse and validate config text; `file` only labels the errors. Throws ConfigError. */
export function parseConfig(text: string, file = 'cutover.yml'): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    // The parser notices an unclosed bracket or quote where the text stops making sense, often
    // lines later; its syntax tree still shows where it opened.
    const openings = unclosedOpenings(text);
    throw new ConfigError(
      file,
      doc.errors.map((e): ConfigIssue => {
        const pos = lineCounter.linePos(e.pos[0]);
        const issue: ConfigIssue = { path: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, line: pos.line, col: pos.col };
        const open = openings.filter((o) => o.offset < e.pos[0]).at(-1);
        if (!open) return issue;
        const at = lineCounter.linePos(open.offset);
        return at.line === pos.line ? issue : { ...issue, opened: { char: open.char, line: at.line, col: at.col } };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases and alias bombs surface here, not in doc.errors.
    throw new ConfigError(file, [{ path: '', message: `YAML error: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  if (data === null || data === undefined) {
    throw new ConfigError(file, [{ path: '', message: 'the file is empty; it needs at least `apps:` (see cutover.example.yml)' }]);
  }
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.flatMap(describeIssue));
  return parsed.data;
}

/** Flow collections (`[`, `{`) and quoted scalars in the YAML syntax tree that never close, by offset. */
export function unclosedOpenings(text: string): { offset: number; char: string }[] {
  const found: { offset: number; char: string }[] = [];
  const walk = (node: unknown, depth: number): void => {
    if (depth > 200 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n, depth + 1);
      return;
    }
    const t = node as { type?: string; offset?: number; source?: string; start?: { source?: string; offset?: number }; end?: { type?: string }[] };
    if (t.type === 'flow-collection' && t.start?.offset !== undefined) {
      const closed = (t.end ?? []).some((e) => e.type === 'flow-seq-end' || e.type === 'flow-map-end');
      if (!closed) found.push({ offset: t.start.offset, char: t.start.source ?? '[' });
    } else if ((t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') && t.offset !== undefined && t.source !== undefined) {
      if (!quoteCloses(t.source)) found.push({ offset: t.offset, char: t.source[0] ?? '"' });
    }
    for (const v of Object.values(node)) walk(v, depth + 1);
  };
  for (const token of new Parser().parse(text)) walk(token, 0);
  return found.sort((a, b) => a.offset - b.offset);
}

/** Whether a quoted scalar's source ends with its closing quote (`\"` and `''` are escapes, not ends). */
function quoteCloses(source: string): boolean {
  const q = source[0];
  for (let i = 1; i < source.length; i++) {
    if (q === '"' && source[i] === '\\') i++;
    else if (source[i] === q) {
      if (q === "'" && source[i + 1] === "'") i++;
      else return i === source.length - 1;
    }
  }
  return false;
}

// ---- zod issues → human text ------------------------------------------------------------

type Issue = z.core.$ZodIssue;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out ? `.${key}` : key;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
};

function describeValue(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

function describeIssue(issue: Issue): ConfigIssue[] {
  const path = formatPath(issue.path);
  const one = (message: string): ConfigIssue[] => [{ path, message }];
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return one(`missing; expected ${expected}`);
      return one(`expected ${expected}, got ${describeValue(issue.input)}`);
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const hint = didYouMean(key, knownKeysAt(issue.path));
        return { path, message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}` };
      });
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const small = issue.code === 'too_small';
      if (!issue.message.startsWith('Too ')) return one(issue.message);
      if (issue.origin === 'string' && small && Number(bound) === 1) return one('must not be empty');
      if (issue.origin === 'array' || issue.origin === 'set') {
        return one(small ? `needs at least ${String(bound)} item(s)` : `allows at most ${String(bound)} item(s)`);
      }
      if (issue.origin === 'string') {
        return one(small ? `must be at least ${String(bound)} characters` : `must be at most ${String(bound)} characters`);
      }
      const cmp = small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
      return one(`must be ${cmp} ${String(bound)}, got ${describeValue(issue.input)}`);
    }
    case 'invalid_format': {
      const got = issue.input !== undefined ? `, got ${describeValue(issue.input)}` : '';
      if (!issue.message.startsWith('Invalid')) return one(`${issue.message}${got}`);
      if (issue.format === 'regex' && issue.pattern) return one(`must match ${issue.pattern}${got}`);
      return one(`expected a valid ${issue.format}${got}`);
    }
    case 'invalid_key': {
      const parent = formatPath(issue.path.slice(0, -1));
      const what = parent.endsWith('environments') ? 'environment name' : parent === 'apps' ? 'app name' : 'name';
      const rule = issue.issues[0]?.message ?? 'invalid';
      return [{ path: parent, message: `${what} ${describeValue(issue.input)} ${rule}` }];
    }
    case 'invalid_value':
      return one(`expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`);
    case 'not_multiple_of':
      return one(`must be a multiple of ${String(issue.divisor)}`);
    case 'invalid_union':
    case 'invalid_element':
    case 'custom':
    default:
      return one(issue.message);
  }
}

/** The keys the schema allows for the object at `path` (used for did-you-mean). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node: unknown = configSchema;
  const def = (s: unknown): Record<string, unknown> =>
    ((s as { _zod?: { def?: Record<string, unknown> } })._zod?.def ?? {});
  const unwrap = (s: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const d = def(s);
      if (d.innerType) s = d.innerType;
      // A preprocess is a pipe from a transform into the schema that has the keys.
      else if (d.type === 'pipe') s = def(d.in).type === 'transform' ? d.out : d.in;
      else break;
    }
    return s;
  };
  for (const part of path) {
    const d = def(unwrap(node));
    if (d.type === 'object') node = (d.shape as Record<string, unknown>)[String(part)];
    else if (d.type === 'record') node = d.valueType;
    else if (d.type === 'array') node = d.element;
    else return [];
  }
  const d = def(unwrap(node));
  return d.type === 'object' ? Object.keys(d.shape as Record<string, unknown>) : [];
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of candidates) {
    const k = key.toLowerCase();
    const d = k === w ? 0 : k.startsWith(w) || w.startsWith(k) ? 1 : distance(w, k);
    if (d <= Math.max(2, Math.floor(key.length / 3)) && (!best || d < best.d)) best = { key, d };
  }
  return best?.key;
}

// ---- Config → Plan ----------------------------------------------------------------------

/** The plan of one environment: defaults applied, durations in ms. Throws ConfigError. */
export function resolvePlan(config: Config, app: string, env: string, file = 'cutover.yml'): Plan {
  const appConfig = Object.hasOwn(config.apps, app) ? config.apps[app] : undefined;
  if (!appConfig) {
    const known = Object.keys(config.apps).join(', ');
    throw new ConfigError(file, [{ path: 'apps', message: `unknown app "${app}"; configured apps: ${known}` }]);
  }
  const e = Object.hasOwn(appConfig.environments, env) ? appConfig.environments[env] : undefined;
  if (!e) {
    const known = Object.keys(appConfig.environments).join(', ');
    throw new ConfigError(file, [
      { path: `apps.${app}.environments`, message: `unknown environment "${env}" for app "${app}"; configured environments: ${known}` },
    ]);
  }
  const { nginx, alb } = e.router;
  // The schema saw to it that an environment is either ssh (hosts, slots, nginx) or aws (aws, alb).
  const seams: Pick<Plan, 'platform' | 'router'> =
    e.aws && alb
      ? { platform: awsPlatform(e.aws), router: albRouter(alb) }
      : { platform: { kind: 'ssh', hosts: e.hosts ?? [], slots: e.slots! }, router: { kind: 'nginx', ...nginx!, upstreamName: nginx?.upstreamName ?? `${app}_${env}` } };
  const plan: Plan = {
    app,
    env,
    ...seams,
    strategy: e.strategy,
    health: e.healthCheck,
    verify: e.verify,
    teardownDelayMs: e.teardownDelay,
    ...(e.slack ? { slackChannel: e.slack.channel } : {}),
    ...freezePolicy(config, e),
    scheduleNoticeMs: e.scheduleNotice,
    ...(e.approval ? { approval: e.approval } : {}),
    ...(config.audit ? { audit: true } : {}),
  };
  const checked = planSchema.safeParse(plan, { reportInput: true });
  if (!checked.success) {
    const prefix = `apps.${app}.environments.${env}`;
    throw new ConfigError(
      file,
      checked.error.issues.flatMap(describeIssue).map((i) => ({ ...i, path: i.path ? `${prefix} (plan ${i.path})` : prefix })),
    );
  }
  return checked.data;
}

/** The file's freeze windows and the environment's, with what a deploy does in one. */
function freezePolicy(config: Config, e: EnvironmentConfig): Pick<Plan, 'freeze'> {
  const windows = [...config.freezes, ...e.freezes];
  if (windows.length === 0 && !e.breakGlass) return {};
  return { freeze: { onFreeze: e.onFreeze, windows, breakGlassApprovers: e.breakGlass?.approvers ?? [] } };
}

/** Counts for `cutover validate`. */
export function summarize(config: Config): { apps: number; environments: number; hosts: number; notes: string[] } {
  let environments = 0;
  let hosts = 0;
  const notes: string[] = [];
  for (const [appName, app] of Object.entries(config.apps)) {
    for (const [envName, env] of Object.entries(app.environments)) {
      environments++;
      hosts += env.hosts?.length ?? 0;
      if (env.strategy.kind === 'canary' && env.strategy.analysis.metrics.length === 0) {
        notes.push(`apps.${appName}.environments.${envName}.strategy.canary.analysis.metrics is empty: the canary's steps only wait, nothing is measured and nothing rolls it back automatically`);
      }
      if (env.slots && !env.slots.installed) {
        notes.push(
          `apps.${appName}.environments.${envName}.slots.installed is not set: a version missing on a host is found only when its slot fails to start (exit 1), not refused before anything changes (exit 2)`,
        );
      }
    }
  }
  return { apps: Object.keys(config.apps).length, environments, hosts, notes };
}
