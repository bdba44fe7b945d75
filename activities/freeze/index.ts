// Freeze windows as activities: pure calendar arithmetic, run as a local activity so the answer
// is recorded in the workflow's history (replay never depends on the worker's tz data).
import type { ActiveFreeze, FreezeWindow } from '../../contract/freeze';
import { activeFreeze } from './calendar';

export function createFreezeActivities() {
  return {
    /** The freeze in force at `at` (the workflow's clock), if any. */
    async freezeAt(input: { windows: FreezeWindow[]; at: number }): Promise<ActiveFreeze | null> {
      return activeFreeze(input.windows, input.at);
    },
  };
}
