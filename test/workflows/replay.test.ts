// Replays histories recorded from real runs (test/histories) against today's workflow code:
// a change that would break running workflows fails here. Use patched() for such changes.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowBundleOptions } from '../../workers/worker';
import * as registered from '../../workflows';
import { recordedHistories } from '../support/histories';

const histories = recordedHistories();
let bundle: WorkflowBundleWithSourceMap;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  bundle = await bundleWorkflowCode({ ...workflowBundleOptions, logger: new DefaultLogger('WARN') });
});

describe('recorded histories replay deterministically', () => {
  test('there are recorded histories of every workflow type the worker registers', () => {
    const types = new Set(histories.map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
    assert.deepEqual([...types].sort(), Object.keys(registered).sort());
  });

  for (const h of histories) {
    test(`replays ${h.name}`, async () => {
      await Worker.runReplayHistory({ workflowBundle: bundle, replayName: h.name }, h.history, h.workflowId);
    });
  }
});
