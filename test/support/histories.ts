// Histories recorded from real runs, replayed by test/workflows/replay.test.ts so that a
// non-deterministic workflow change fails the build. `RECORD_HISTORIES=1 npm test` refreshes them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporalBinary } from '../../sandbox/devserver';
import type { temporal } from '@temporalio/proto';

export const HISTORY_DIR = resolve(__dirname, '..', 'histories');

/** Save a workflow's history as the `temporal` CLI exports it (the JSON the replayer reads). */
export function recordHistory(address: string, workflowId: string, name: string): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const json = execFileSync(temporalBinary(), ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json'], { encoding: 'utf8' });
  mkdirSync(HISTORY_DIR, { recursive: true });
  writeFileSync(join(HISTORY_DIR, `${name}.json`), JSON.stringify({ workflowId, history: JSON.parse(json) }, null, 1));
}

export interface RecordedHistory {
  name: string;
  workflowId: string;
  history: temporal.api.history.v1.IHistory;
}

export function recordedHistories(): RecordedHistory[] {
  return readdirSync(HISTORY_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const { workflowId, history } = JSON.parse(readFileSync(join(HISTORY_DIR, f), 'utf8')) as { workflowId: string; history: unknown };
      return { name: f.replace(/\.json$/, ''), workflowId, history: historyFromJSON(history) };
    });
}
