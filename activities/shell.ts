// Pure helpers for building shell commands. Nothing here does I/O.
import { unsafeNameMessage } from '../contract/names';

export class UnsafeInputError extends Error {
  override name = 'UnsafeInputError';
}

/** POSIX single-quote a value so the shell passes it through as one literal word. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Refuse anything that is not a plain name before it can reach a command. */
export function assertSafeName(field: string, value: string): string {
  const problem = unsafeNameMessage(field, value);
  if (problem !== undefined) throw new UnsafeInputError(problem);
  return value;
}

export type TemplateVars = Readonly<Record<string, string | number>>;

/**
 * Fill `{{name}}` placeholders of an operator-written command template. Every value is
 * shell-quoted; an unknown placeholder is an error rather than an empty string.
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (_m, key: string) => {
    const value = vars[key];
    if (value === undefined) {
      throw new UnsafeInputError(
        `unknown placeholder {{${key}}} in ${JSON.stringify(template)}; known: ${Object.keys(vars)
          .map((k) => `{{${k}}}`)
          .join(', ')}`,
      );
    }
    return quote(value);
  });
}

/** Fill placeholders in a value that is a single word (a path), then quote the whole word. */
export function renderPath(template: string, vars: TemplateVars): string {
  return template.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (_m, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new UnsafeInputError(`unknown placeholder {{${key}}} in ${JSON.stringify(template)}`);
    return String(value);
  });
}

/** Placeholders available wherever a host is concerned: its name (checked: it reaches commands) and address. */
export const hostVars = (host: { name: string; address: string }): TemplateVars => ({
  host: assertSafeName('host name', host.name),
  address: host.address,
});
