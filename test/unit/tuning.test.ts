// The worker's tuning variables: defaults, overrides, and errors that name the variable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerTuningFromEnv, WorkerTuningError } from '../../workers/tuning';

test('defaults hold 1,000 deploying environments in the cache, with the SDK default slots', () => {
  assert.deepEqual(workerTuningFromEnv({}), {
    maxCachedWorkflows: 1200,
    maxConcurrentWorkflowTaskExecutions: 40,
    maxConcurrentActivityTaskExecutions: 100,
    sshSessionsPerHost: 8,
  });
});

test('each variable overrides its setting; an empty one keeps the default', () => {
  const t = workerTuningFromEnv({ CUTOVER_MAX_CACHED_WORKFLOWS: '300', CUTOVER_MAX_WORKFLOW_TASKS: '20', CUTOVER_MAX_ACTIVITIES: '50', CUTOVER_SSH_SESSIONS_PER_HOST: '' });
  assert.deepEqual(t, { maxCachedWorkflows: 300, maxConcurrentWorkflowTaskExecutions: 20, maxConcurrentActivityTaskExecutions: 50, sshSessionsPerHost: 8 });
});

test('a bad value is refused with the variable named', () => {
  assert.throws(() => workerTuningFromEnv({ CUTOVER_MAX_CACHED_WORKFLOWS: 'lots' }), (e: Error) => e instanceof WorkerTuningError && /CUTOVER_MAX_CACHED_WORKFLOWS: expected a whole number/.test(e.message));
  assert.throws(() => workerTuningFromEnv({ CUTOVER_MAX_ACTIVITIES: '0' }), /CUTOVER_MAX_ACTIVITIES: must be from 1 to 10000/);
  assert.throws(() => workerTuningFromEnv({ CUTOVER_MAX_CACHED_WORKFLOWS: '10', CUTOVER_MAX_WORKFLOW_TASKS: '40' }), /CUTOVER_MAX_WORKFLOW_TASKS \(40\) must not exceed CUTOVER_MAX_CACHED_WORKFLOWS \(10\)/);
});
