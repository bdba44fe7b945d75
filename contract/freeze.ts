// Freeze windows: periods in which an environment takes no deploys, in the time zone the team
// lives in. Recurring windows are a cron expression (when the window opens) and a duration in
// wall-clock time; one-off windows are two local times. The calendar arithmetic lives in
// activities/freeze; workflows only read its answers (recorded in history, so replay never
// depends on the worker's time zone data).
import { z } from 'zod';

/** `2026-12-20 00:00`: a wall-clock time in the window's time zone. */
export const LOCAL_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/;

/** Names are shown to people and never reach a shell. */
const label = z.string().min(1).max(100);
const windowBase = { name: label, timezone: z.string().min(1) };

export const recurringFreezeSchema = z.strictObject({
  kind: z.literal('recurring'),
  ...windowBase,
  /** Five-field cron: when the window opens, in `timezone`. */
  cron: z.string().min(1),
  /** How long it stays closed, added in wall-clock time (Fri 18:00 + 62h ends Mon 08:00 across a DST change too). */
  durationMs: z.number().int().positive(),
});

export const oneOffFreezeSchema = z.strictObject({
  kind: z.literal('oneOff'),
  ...windowBase,
  from: z.string().regex(LOCAL_TIME),
  to: z.string().regex(LOCAL_TIME),
});

export const freezeWindowSchema = z.discriminatedUnion('kind', [recurringFreezeSchema, oneOffFreezeSchema]);
export type FreezeWindow = z.infer<typeof freezeWindowSchema>;

export const ON_FREEZE = ['wait', 'reject'] as const;
export type OnFreeze = (typeof ON_FREEZE)[number];

export const freezePolicySchema = z.strictObject({
  /** A deploy that meets a freeze waits until it ends, or is refused at once. */
  onFreeze: z.enum(ON_FREEZE),
  windows: z.array(freezeWindowSchema),
  /** Who may let a `--break-glass` deploy through a freeze (one of them, not the person who triggered it). */
  breakGlassApprovers: z.array(label),
});
export type FreezePolicy = z.infer<typeof freezePolicySchema>;

/** A freeze in force: the windows that hold it closed (chained when one opens as another ends) and when it lifts. */
export interface ActiveFreeze {
  windows: string[];
  /** ms since epoch when deploys may go again. */
  endsAt: number;
  /** `Mon 7 Dec 08:00 Europe/Berlin`, in the time zone of the window that ends last. */
  endsText: string;
}

/** One opening of a window, for `cutover freeze list`. */
export interface FreezeOccurrence {
  window: string;
  timezone: string;
  startsAt: number;
  endsAt: number;
  startsText: string;
  endsText: string;
}
