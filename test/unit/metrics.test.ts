// How the environment tells a refused operation (nothing changed) from a failed one for its metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVITY_ERROR, FAILURE } from '../../contract/failures';
import { refusalOf } from '../../workflows/steps/metrics';

test('refusals: bad input or an environment not deployable, nothing changed', () => {
  for (const type of [FAILURE.hostsDisagree, FAILURE.versionNotInstalled, FAILURE.notDeployable, FAILURE.deployFrozen, ACTIVITY_ERROR.hostKeyRejected]) {
    assert.equal(refusalOf({ outcome: 'failed', failureType: type }), type, type);
  }
});

test('failures after something changed, cancellations and successes are not refusals', () => {
  for (const type of [FAILURE.deployFailed, FAILURE.canaryFailed, FAILURE.canaryAborted, FAILURE.deployRejected]) assert.equal(refusalOf({ outcome: 'failed', failureType: type }), undefined, type);
  assert.equal(refusalOf({ outcome: 'failed' }), undefined);
  assert.equal(refusalOf({ outcome: 'cancelled', failureType: FAILURE.hostsDisagree }), undefined);
});
