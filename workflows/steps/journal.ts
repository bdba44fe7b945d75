// What a deploy tells people as it goes: the progress query, the "current details" and
// phase search attribute in the Temporal UI, and the Slack thread.
import { setCurrentDetails, setHandler, upsertSearchAttributes, log } from '@temporalio/workflow';
import { progressQuery, type ProgressEntry } from '../../contract/api';
import { SA } from '../../contract/search-attributes';
import { slackOps } from './activities';

export class Journal {
  private readonly entries: ProgressEntry[] = [];
  private thread: string | null = null;

  constructor(
    private readonly channel: string | undefined,
    private readonly key: string,
  ) {
    setHandler(progressQuery, () => this.entries);
  }

  get slackThread(): string | null {
    return this.thread;
  }

  /** Record a step: progress line, UI details and the phase search attribute. */
  step(phase: string, message: string): void {
    this.entries.push({ at: Date.now(), step: phase, message });
    setCurrentDetails(`**${phase}**: ${message}`);
    upsertSearchAttributes([{ key: SA.phase, value: phase }]);
    log.info(message, { phase });
  }

  /** Open the deploy's Slack thread with a headline (or, once open, make this the headline). */
  async open(headline: string): Promise<void> {
    if (!this.channel) return;
    const channel = this.channel;
    const thread = this.thread;
    if (thread) {
      await this.safely(() => slackOps.slackUpdate({ channel, ts: thread, text: headline }));
      return;
    }
    const r = await this.safely(() => slackOps.slackPost({ channel, text: headline, key: `${this.key}:headline` }));
    this.thread = r?.ts ?? null;
  }

  /** Post an event in the thread and make it the headline; with `approve`, under Approve / Reject buttons for that deploy. */
  async notify(event: string, text: string, headline?: string, approve?: { deployId: string }): Promise<void> {
    if (!this.channel) return;
    const channel = this.channel;
    const thread = this.thread;
    await this.safely(() => slackOps.slackPost({ channel, text, threadTs: thread ?? undefined, key: `${this.key}:${event}`, ...(approve ? { approvalButtons: approve } : {}) }));
    if (headline && thread) await this.safely(() => slackOps.slackUpdate({ channel, ts: thread, text: headline }));
  }

  private async safely<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      log.warn('slack notification failed; the operation goes on', { error: String(err) });
      return null;
    }
  }
}

/** The innermost message of a failure chain (activity → application failure). */
export function reasonOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as Error & { cause?: unknown }).cause instanceof Error) {
    e = (e as Error & { cause?: unknown }).cause;
  }
  return e instanceof Error ? e.message : String(e);
}

