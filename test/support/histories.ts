// Histories recorded from real runs, replayed by test/workflows/replay.test.ts so that a
// non-deterministic workflow change fails the build. `RECORD_HISTORIES=1 npm test` refreshes them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporalBinary } from '../../sandbox/devserver';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';

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

const E = temporal.api.enums.v1.EventType;
type Event = temporal.api.history.v1.IHistoryEvent;

/** One activity of a run, as its history tells it: type, first argument, result, when it started and closed. */
export interface ActivityRun {
  type: string;
  input: unknown;
  result: unknown;
  started: number;
  closed: number;
}

const eventMs = (e: Event): number => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
const firstPayload = (p: temporal.api.common.v1.IPayloads | null | undefined): unknown => {
  const data = p?.payloads?.[0]?.data;
  // A void result is a `binary/null` payload without data.
  return data && data.length > 0 ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
};

/** A run's completed activities in the order they ended. */
export async function activityRuns(client: Client, workflowId: string): Promise<ActivityRun[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const started = new Map<string, number>();
  const runs: ActivityRun[] = [];
  for (const e of history.events ?? []) {
    if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const a = e.activityTaskScheduledEventAttributes;
      scheduled.set(String(e.eventId), { type: a?.activityType?.name ?? '?', input: firstPayload(a?.input) });
    } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      started.set(String(e.activityTaskStartedEventAttributes?.scheduledEventId), eventMs(e));
    } else if (e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes;
      const id = String(a?.scheduledEventId);
      const s = scheduled.get(id);
      if (s) runs.push({ ...s, result: firstPayload(a?.result), started: started.get(id) ?? eventMs(e), closed: eventMs(e) });
    }
  }
  return runs;
}
