// The version a recurring deploy asks for, read from what a command printed or a URL answered.
import { SAFE_NAME } from '../../contract/names';

/** The last non-empty line; for a path (`/srv/shop/releases/v3`), its last segment. Undefined when that is no safe version. */
export function versionFromOutput(output: string): string | undefined {
  const line = output.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop();
  if (line === undefined) return undefined;
  const version = line.includes('/') ? line.replace(/\/+$/, '').split('/').pop() ?? '' : line;
  return SAFE_NAME.test(version) ? version : undefined;
}
