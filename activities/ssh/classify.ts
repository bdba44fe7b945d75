// Which failures are worth retrying. Anything that will fail the same way again is
// turned into a non-retryable ApplicationFailure whose type the workflows and CLI can read.
import { ApplicationFailure } from '@temporalio/common';
import { ACTIVITY_ERROR as ERROR_TYPE } from '../../contract/failures';
import { UnsafeInputError } from '../shell';
import { HostKeyRejectedError, SshExecError } from './client';

export { ERROR_TYPE };

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
