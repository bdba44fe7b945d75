// Where a recurring deploy's version comes from: a command on the environment's first host
// (over the worker's SSH connection) or an HTTP URL. Reads only, so safe to retry.
import { ApplicationFailure } from '@temporalio/common';
import { ACTIVITY_ERROR } from '../../contract/failures';
import type { VersionSource } from '../../contract/schedules';
import type { HostSpec } from '../../contract/spec';
import { run, truncate, type Ssh } from '../ssh/client';
import { onHost } from '../ssh/on-host';
import { versionFromOutput } from './version';

const TIMEOUT_MS = 10_000;

export interface ResolveVersionInput {
  source: VersionSource;
  /** The environment's first host, for a command source. */
  host: HostSpec;
}

export function createVersionSourceActivities(ssh: Ssh) {
  return {
    async resolveVersion({ source, host }: ResolveVersionInput): Promise<string> {
      let output: string;
      if (source.kind === 'command') {
        output = await onHost(() => ssh.withSession(host, (s) => run(s, host, source.command, { timeoutMs: TIMEOUT_MS })), { commandFailuresAreFinal: true });
      } else {
        const res = await fetch(source.url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        output = await res.text();
        if (!res.ok) throw new Error(`${source.url} answered HTTP ${res.status}: ${truncate(output, 200, 1)}`);
      }
      const version = versionFromOutput(output);
      if (version === undefined) {
        throw ApplicationFailure.nonRetryable(
          `the version source gave ${JSON.stringify(truncate(output, 200, 2))}, which is no version (letters, digits, ".", "_", "-", starting with a letter or digit)`,
          ACTIVITY_ERROR.unsafeInput,
        );
      }
      return version;
    },
  };
}
