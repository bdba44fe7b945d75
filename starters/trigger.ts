// Who triggered an operation, and the workflow ids derived from it. Pure: the environment,
// the clock and the randomness are passed in, so a retried CI job reproduces the same ids.
import { userInfo } from 'node:os';
import { childWorkflowIds } from '../contract';
import type { Trigger } from '../contract';

/** Keep only [A-Za-z0-9._-] (anything else becomes "-"), at most 128 characters; undefined if nothing is left. */
export function sanitizeKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  const clean = key
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 128);
  return clean === '' ? undefined : clean;
}

const nonEmpty = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v.trim() : undefined);

function localUser(env: NodeJS.ProcessEnv): string {
  const fromEnv = nonEmpty(env.CUTOVER_USER) ?? nonEmpty(env.USER) ?? nonEmpty(env.USERNAME) ?? nonEmpty(env.LOGNAME);
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Drop undefined fields so the object stays clean in history and JSON. */
function compact(t: Trigger): Trigger {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as Trigger;
}

/** Detect GitLab CI, GitHub Actions or a person at a terminal. `opts.key` overrides the key. */
export function triggerFromEnv(env: NodeJS.ProcessEnv, opts: { key?: string } = {}): Trigger {
  const override = sanitizeKey(opts.key);
  if (env.GITLAB_CI === 'true' || nonEmpty(env.CI_PIPELINE_ID)) {
    const pipeline = sanitizeKey(nonEmpty(env.CI_PIPELINE_ID));
    return compact({
      source: 'gitlab',
      by: nonEmpty(env.GITLAB_USER_LOGIN) ?? 'gitlab',
      key: override ?? (pipeline ? `gitlab-${pipeline}` : undefined),
      url: nonEmpty(env.CI_JOB_URL) ?? nonEmpty(env.CI_PIPELINE_URL),
      commit: nonEmpty(env.CI_COMMIT_SHA),
    });
  }
  if (env.GITHUB_ACTIONS === 'true' || nonEmpty(env.GITHUB_RUN_ID)) {
    // GITHUB_RUN_ATTEMPT is deliberately not part of the key: a re-run must reach the same deploy.
    const run = sanitizeKey(nonEmpty(env.GITHUB_RUN_ID));
    const server = (nonEmpty(env.GITHUB_SERVER_URL) ?? 'https://github.com').replace(/\/+$/, '');
    const repo = nonEmpty(env.GITHUB_REPOSITORY);
    return compact({
      source: 'github',
      by: nonEmpty(env.GITHUB_ACTOR) ?? 'github',
      key: override ?? (run ? `github-${run}` : undefined),
      url: run && repo ? `${server}/${repo}/actions/runs/${run}` : undefined,
      commit: nonEmpty(env.GITHUB_SHA),
    });
  }
  return compact({ source: 'cli', by: localUser(env), key: override });
}

/** `yyyymmddThhmmss` in UTC. */
export function compactTimestamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
}

/** The key of a one-off operation from a terminal: `cli-<yyyymmddThhmmss>-<random6>`. */
export function oneOffKey(now: Date, random: string): string {
  const r = (random.replace(/[^A-Za-z0-9]/g, '') + '000000').slice(0, 6);
  return `cli-${compactTimestamp(now)}-${r}`;
}

export function deployIdFor(app: string, env: string, version: string, trigger: Trigger, now: Date, random: string): string {
  const key = sanitizeKey(trigger.key);
  return childWorkflowIds.deploy(app, env, key ? `${key}-${version}` : oneOffKey(now, random));
}

export function rollbackIdFor(app: string, env: string, trigger: Trigger, now: Date, random: string): string {
  const key = sanitizeKey(trigger.key);
  return childWorkflowIds.rollback(app, env, key ?? oneOffKey(now, random));
}
