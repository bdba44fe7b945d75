// Which failures are worth retrying. Anything that will fail the same way again is
// turned into a non-retryable ApplicationFailure whose type the workflows and CLI can read.
import { ApplicationFailure } from '@temporalio/common';
import { HostKeyRejectedError, SshExecError } from './ssh';
import { UnsafeInputError } from './shell';

export const ERROR_TYPE = {
  unsafeInput: 'UnsafeInput',
  hostKeyRejected: 'HostKeyRejected',
  commandFailed: 'CommandFailed',
  healthCheckFailed: 'HealthCheckFailed',
  routerConfigRejected: 'RouterConfigRejected',
  verifyFailed: 'VerifyFailed',
} as const;

/** Run an activity body; rethrow permanent errors as non-retryable failures. */
export async function classify<T>(fn: () => Promise<T>, opts: { commandFailuresAreFinal?: boolean } = {}): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UnsafeInputError) throw ApplicationFailure.nonRetryable(err.message, ERROR_TYPE.unsafeInput);
    if (err instanceof HostKeyRejectedError) throw ApplicationFailure.nonRetryable(err.message, ERROR_TYPE.hostKeyRejected);
    if (err instanceof SshExecError && opts.commandFailuresAreFinal) {
      throw ApplicationFailure.nonRetryable(err.message, ERROR_TYPE.commandFailed, { code: err.code, stderr: err.stderr });
    }
    throw err;
  }
}
