// How the environment tells a refused deploy (nothing changed) from a failed one for its metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { FAILURE } from '../../contract/failures';
import { refusalReason } from '../../workflows/steps/metrics';

const child = (cause: Error): ChildWorkflowFailure =>
  new ChildWorkflowFailure('default', { workflowId: 'deploy/shop/prod/k', runId: 'r' }, 'blueGreenDeploy', RetryState.NON_RETRYABLE_FAILURE, cause);
const app = (type: string): ApplicationFailure => ApplicationFailure.create({ type, message: type, nonRetryable: true });
const activity = (cause: Error): ActivityFailure => new ActivityFailure('Activity task failed', 'readRouter', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);

test('preflight refusals: hosts disagree, version not installed, an activity failing before anything changed', () => {
  assert.equal(refusalReason(child(app(FAILURE.hostsDisagree))), 'HostsDisagree');
  assert.equal(refusalReason(child(app(FAILURE.versionNotInstalled))), 'VersionNotInstalled');
  assert.equal(refusalReason(child(activity(app('HostKeyRejected')))), 'HostKeyRejected');
  assert.equal(refusalReason(child(activity(new Error('boom')))), 'ActivityFailed');
});

test('failures after the preflight are not refusals', () => {
  for (const type of [FAILURE.deployFailed, FAILURE.canaryFailed, FAILURE.canaryAborted]) assert.equal(refusalReason(child(app(type))), undefined, type);
  assert.equal(refusalReason(new Error('cancelled')), undefined);
});
