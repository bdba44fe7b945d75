// The one rule for every name that may reach a shell or a path as a value: app, environment,
// host and metric names, users, upstream names, versions. Colours are an enum of their own.
// The config schema, the CLI, the request schemas and the command builders' runtime checks all
// use this rule, so a value refused in one place is refused in all of them.
import { z } from 'zod';

export const SAFE_NAME_MAX = 128;
/** Starts with a letter or digit (never `-`, `.` or `_`: no option, no dot-file), no `..` anywhere. */
export const SAFE_NAME = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SAFE_NAME_RULE =
  'a name is 1 to 128 letters, digits, ".", "_" or "-", starts with a letter or digit and has no "..", like v1.2.3 or web-1';

/** What is wrong with `value` as a name, as the start of a sentence ("must ..."); undefined when it is fine. */
export function nameProblem(value: string): string | undefined {
  if (SAFE_NAME.test(value)) return undefined;
  if (value === '') return 'must not be empty';
  const chars = Array.from(value);
  const bad = chars.find((c) => !/^[A-Za-z0-9._-]$/.test(c));
  if (bad !== undefined) return `must not contain ${JSON.stringify(bad)}`;
  if (!/^[A-Za-z0-9]/.test(value)) return `must start with a letter or digit, not ${JSON.stringify(value[0])}`;
  if (value.includes('..')) return 'must not contain ".."';
  return `must be at most ${SAFE_NAME_MAX} characters (it has ${chars.length})`;
}

/** `version: "-rf" is not allowed: it must start with a letter or digit, not "-" (a name is ...)`; undefined when fine. */
export function unsafeNameMessage(field: string, value: string): string | undefined {
  const problem = nameProblem(value);
  return problem === undefined ? undefined : `${field}: ${JSON.stringify(value)} is not allowed: it ${problem} (${SAFE_NAME_RULE})`;
}

/** The rule as a zod string; the message says what is wrong and the whole rule (the config loader appends the value). */
export const safeName = z.string().regex(SAFE_NAME, {
  error: (issue) => `${typeof issue.input === 'string' ? (nameProblem(issue.input) ?? 'is not a name') : 'must be a name'} (${SAFE_NAME_RULE})`,
});
