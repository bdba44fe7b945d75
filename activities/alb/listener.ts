// Pure builders and readers for the ALB listener cutover drives: the forward action with one
// weight per colour, and the tags where cutover notes what it last set (weights and the version
// in each colour), so a listener changed behind its back is noticed, not guessed at.
import type { Action, Tag } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AlbRouter } from '../../contract/aws';
import { COLORS, type Color } from '../../contract/spec';

export type Weights = Record<Color, number>;

export const TAG = { weights: 'cutover:weights', blueVersion: 'cutover:version:blue', greenVersion: 'cutover:version:green' } as const;

/** The listener's default action: forward to both groups, the live one at `weights`. */
export function forwardAction(router: AlbRouter, weights: Weights): Action[] {
  return [
    {
      Type: 'forward',
      ForwardConfig: {
        TargetGroups: COLORS.map((c) => ({ TargetGroupArn: router.targetGroups[c], Weight: weights[c] })),
        TargetGroupStickinessConfig: { Enabled: false },
      },
    },
  ];
}

/** Blue-green: everything to `color`, the other group kept in the action at 0 (and registered). */
export const allTo = (color: Color): Weights => (color === 'blue' ? { blue: 100, green: 0 } : { blue: 0, green: 100 });

/** A canary: `weight` percent to the canary colour, the rest to the stable one. */
export const split = (stable: Color, canaryWeight: number): Weights =>
  stable === 'blue' ? { blue: 100 - canaryWeight, green: canaryWeight } : { blue: canaryWeight, green: 100 - canaryWeight };

export const formatWeights = (w: Weights): string => `blue=${w.blue},green=${w.green}`;

export function parseWeights(text: string | undefined): Weights | undefined {
  const m = /^blue=(\d{1,3}),green=(\d{1,3})$/.exec(text ?? '');
  return m ? { blue: Number(m[1]), green: Number(m[2]) } : undefined;
}

export type ListenerReading =
  | { ok: true; weights: Weights }
  | { ok: false; problem: string };

/**
 * The weights per colour of the listener's default action. Anything cutover did not set (a
 * fixed response, a redirect, a third group, rules) is a problem to report, not to interpret.
 */
export function readForward(router: AlbRouter, actions: readonly Action[] | undefined): ListenerReading {
  const list = actions ?? [];
  const forwards = list.filter((a) => a.Type === 'forward');
  if (list.length !== 1 || forwards.length !== 1) {
    return { ok: false, problem: `its default action is ${list.map((a) => a.Type ?? '?').join(' + ') || 'empty'}, not one forward to the blue and green groups` };
  }
  const action = forwards[0]!;
  const groups = action.ForwardConfig?.TargetGroups ?? (action.TargetGroupArn ? [{ TargetGroupArn: action.TargetGroupArn, Weight: 1 }] : []);
  const weights: Weights = { blue: 0, green: 0 };
  const strangers: string[] = [];
  for (const g of groups) {
    const color = COLORS.find((c) => router.targetGroups[c] === g.TargetGroupArn);
    if (color) weights[color] += g.Weight ?? 1;
    else strangers.push(g.TargetGroupArn ?? '?');
  }
  if (strangers.length > 0) return { ok: false, problem: `it forwards to target group(s) that are neither blue nor green: ${strangers.join(', ')}` };
  const total = weights.blue + weights.green;
  if (total === 0) return { ok: false, problem: 'it forwards nothing (both weights are 0)' };
  // ALB weights are relative (0-999); cutover reads them as percentages of their sum.
  return { ok: true, weights: { blue: Math.round((weights.blue * 100) / total), green: 100 - Math.round((weights.blue * 100) / total) } };
}

export interface Recorded {
  weights: Weights;
  versions: Partial<Record<Color, string>>;
}

export function recordTags(weights: Weights, versions: Partial<Record<Color, string>>): Tag[] {
  const tags: Tag[] = [{ Key: TAG.weights, Value: formatWeights(weights) }];
  if (versions.blue) tags.push({ Key: TAG.blueVersion, Value: versions.blue });
  if (versions.green) tags.push({ Key: TAG.greenVersion, Value: versions.green });
  return tags;
}

export function readRecord(tags: readonly Tag[] | undefined): Recorded | null {
  const get = (k: string) => tags?.find((t) => t.Key === k)?.Value;
  const weights = parseWeights(get(TAG.weights));
  if (!weights) return null;
  const versions: Partial<Record<Color, string>> = {};
  const b = get(TAG.blueVersion);
  const g = get(TAG.greenVersion);
  if (b) versions.blue = b;
  if (g) versions.green = g;
  return { weights, versions };
}

export type LiveReading =
  | { state: 'live'; color: Color; version: string | null; canary?: { color: Color; weight: number } }
  | { state: 'drifted'; problem: string };

/**
 * What the listener serves, judged against what cutover last set. No record and all traffic
 * on one group is a listener cutover has not driven yet: its live colour is that group.
 */
export function judgeListener(reading: ListenerReading, record: Recorded | null): LiveReading {
  if (!reading.ok) return { state: 'drifted', problem: reading.problem };
  const w = reading.weights;
  if (record && (record.weights.blue !== w.blue || record.weights.green !== w.green)) {
    return { state: 'drifted', problem: `its weights are ${formatWeights(w)}, but cutover last set ${formatWeights(record.weights)} (changed outside cutover, e.g. in the console)` };
  }
  const major: Color = w.blue >= w.green ? 'blue' : 'green';
  const minor: Color = major === 'blue' ? 'green' : 'blue';
  if (!record && w[minor] !== 0) return { state: 'drifted', problem: `it splits traffic (${formatWeights(w)}) and cutover has no record of setting that` };
  const version = record?.versions[major] ?? null;
  return { state: 'live', color: major, version, ...(w[minor] > 0 ? { canary: { color: minor, weight: w[minor] } } : {}) };
}
