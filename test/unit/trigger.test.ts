import { test } from 'node:test';
import assert from 'node:assert/strict';
import { triggerSchema } from '../../contract';
import { compactTimestamp, deployIdFor, rollbackIdFor, sanitizeKey, triggerFromEnv } from '../../starters/trigger';

const now = new Date('2025-03-04T05:06:07.890Z');

const gitlab = {
  GITLAB_CI: 'true',
  CI_PIPELINE_ID: '4711',
  CI_JOB_URL: 'https://gitlab.example.com/acme/shop/-/jobs/99',
  GITLAB_USER_LOGIN: 'alice',
  CI_COMMIT_SHA: 'abc123',
  USER: 'runner',
};
const github = {
  GITHUB_ACTIONS: 'true',
  GITHUB_RUN_ID: '123456',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_ACTOR: 'bob',
  GITHUB_SHA: 'def456',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/shop',
};

test('GitLab', () => {
  const t = triggerFromEnv(gitlab);
  assert.deepEqual(t, {
    source: 'gitlab',
    by: 'alice',
    key: 'gitlab-4711',
    url: 'https://gitlab.example.com/acme/shop/-/jobs/99',
    commit: 'abc123',
  });
  assert.ok(triggerSchema.safeParse(t).success);
  assert.equal(deployIdFor('shop', 'prod', '1.2.3', t, now, 'zzzzzz'), 'deploy/shop/prod/gitlab-4711-1.2.3');
  assert.equal(rollbackIdFor('shop', 'prod', t, now, 'zzzzzz'), 'rollback/shop/prod/gitlab-4711');
});

test('GitHub: a re-run attempt reaches the same deploy', () => {
  const first = triggerFromEnv(github);
  const rerun = triggerFromEnv({ ...github, GITHUB_RUN_ATTEMPT: '2' });
  assert.deepEqual(first, {
    source: 'github',
    by: 'bob',
    key: 'github-123456',
    url: 'https://github.com/acme/shop/actions/runs/123456',
    commit: 'def456',
  });
  assert.deepEqual(rerun, first);
  assert.equal(
    deployIdFor('shop', 'prod', 'v1', first, now, 'a'),
    deployIdFor('shop', 'prod', 'v1', rerun, new Date(), 'b'),
  );
  assert.equal(deployIdFor('shop', 'prod', 'v1', first, now, 'a'), 'deploy/shop/prod/github-123456-v1');
});

test('terminal: user, no key, one-off ids', () => {
  const t = triggerFromEnv({ USER: 'carol' });
  assert.deepEqual(t, { source: 'cli', by: 'carol' });
  assert.ok(triggerSchema.safeParse(t).success);
  assert.equal(compactTimestamp(now), '20250304T050607');
  assert.equal(deployIdFor('shop', 'prod', '1.0', t, now, 'a1b2c3d4'), 'deploy/shop/prod/cli-20250304T050607-a1b2c3');
  assert.equal(rollbackIdFor('shop', 'prod', t, now, 'ffeedd'), 'rollback/shop/prod/cli-20250304T050607-ffeedd');
  assert.ok(triggerFromEnv({}).by.length > 0);
  assert.equal(triggerFromEnv({ USER: 'root', CUTOVER_USER: 'carol' }).by, 'carol', 'CUTOVER_USER names the person on a shared account');
});

test('--key overrides, and keys are sanitized', () => {
  assert.equal(triggerFromEnv(gitlab, { key: 'release 42' }).key, 'release-42');
  const t = triggerFromEnv({ USER: 'carol' }, { key: 'my/key;rm -rf' });
  assert.equal(t.key, 'my-key-rm--rf');
  assert.equal(deployIdFor('shop', 'prod', '2.0', t, now, 'x'), 'deploy/shop/prod/my-key-rm--rf-2.0');
  assert.equal(sanitizeKey('///'), undefined);
  assert.equal(sanitizeKey('a.b_c-d'), 'a.b_c-d');
  assert.equal(sanitizeKey('x'.repeat(300))?.length, 128);
  assert.equal(triggerFromEnv({ USER: 'carol' }, { key: '  ' }).key, undefined);
});
