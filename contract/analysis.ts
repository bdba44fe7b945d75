// What one measurement of a canary metric found. Produced by the prometheus and slots
// activities, judged by the workflow's analysis step.
import type { Color, FailIf } from './spec';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface Measurement {
  metric: string;
  verdict: Verdict;
  /** The measured value (the worst one when a query returns several series), null when there is none. */
  value: number | null;
  /** The rule, e.g. `fail if > 0.01` or `HTTP 200 on every host`. */
  threshold: string;
  /** Why, in words: the series, the hosts, the error. */
  detail: string;
}

/** Values filled into `{{...}}` of a PromQL query. All are safe names. */
export interface QueryVars {
  app: string;
  env: string;
  version: string;
  color: Color;
  stableVersion: string;
}

export const describeFailIf = (f: FailIf): string => `fail if ${f.op} ${f.value}`;

/** Does `value` breach the rule? */
export function breaches(f: FailIf, value: number): boolean {
  switch (f.op) {
    case '>':
      return value > f.value;
    case '>=':
      return value >= f.value;
    case '<':
      return value < f.value;
    case '<=':
      return value <= f.value;
    case '==':
      return value === f.value;
    case '!=':
      return value !== f.value;
  }
}
