// Compensation as a stack: each step that changes the world pushes its undo; on failure or
// cancellation the undos run newest first, and none of them can be cancelled.
import { CancellationScope } from '@temporalio/workflow';

export interface Undo {
  /** This undo is no longer wanted (e.g. a first deploy has nothing to switch back to). */
  forget(): void;
}

export class Saga {
  private readonly undos: { what: string; run: () => Promise<void>; live: boolean }[] = [];

  push(what: string, run: () => Promise<void>): Undo {
    const entry = { what, run, live: true };
    this.undos.push(entry);
    return { forget: () => void (entry.live = false) };
  }

  /** Run every undo, newest first; the first failure stops the rest and is thrown. */
  async compensate(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.undos.length > 0) {
        const undo = this.undos.pop()!;
        if (undo.live) await undo.run();
      }
    });
  }
}
