// Free text a person gives the CLI (a reason, a comment) that ends up in a workflow's history
// and in Slack: one sane line, or a bad-input error naming the option.
import { CliError, EXIT } from './output';

const MAX_REASON = 500;

export function checkReason(reason: string | undefined, option = '--reason'): string | undefined {
  if (reason === undefined) return undefined;
  const text = reason.replace(/\s+/g, ' ').trim();
  if (text === '') throw new CliError(`${option}: the text is empty; give a reason or leave the option out`, EXIT.badInput);
  if (text.length > MAX_REASON) {
    throw new CliError(`${option}: ${text.length} characters is too long; keep it to ${MAX_REASON} (link to details instead)`, EXIT.badInput);
  }
  return text;
}
