// AWS API errors as activity failures: the API's own code and message, throttling retried
// (with the retry policy's backoff), refusals (access denied, validation, not found) final.
import { ApplicationFailure } from '@temporalio/common';

export const AWS_ERROR = {
  throttled: 'AwsThrottled',
  unreachable: 'AwsUnreachable',
  accessDenied: 'AwsAccessDenied',
  rejected: 'AwsRequestRejected',
  failed: 'AwsError',
} as const;

/** Activity error types that retrying cannot fix. */
export const AWS_NON_RETRYABLE: readonly string[] = [AWS_ERROR.accessDenied, AWS_ERROR.rejected];

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'PriorRequestNotComplete']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'ExpiredToken', 'ExpiredTokenException', 'MissingAuthenticationToken', 'CredentialsProviderError']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

export interface AwsErrorView {
  type: (typeof AWS_ERROR)[keyof typeof AWS_ERROR];
  code: string;
  message: string;
  status?: number;
}

/** What kind of trouble an error from the SDK is (pure: unit-tested on plain objects). */
export function classifyAwsError(err: unknown): AwsErrorView {
  const e = (err ?? {}) as { name?: string; Code?: string; code?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const code = e.Code ?? e.name ?? 'Error';
  const netCode = e.code ?? e.cause?.code;
  const message = (e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  const status = e.$metadata?.httpStatusCode;
  const view = (type: AwsErrorView['type']): AwsErrorView => ({ type, code, message, ...(status !== undefined ? { status } : {}) });
  if (THROTTLING.has(code) || status === 429) return view(AWS_ERROR.throttled);
  if (ACCESS_DENIED.has(code) || status === 403) return view(AWS_ERROR.accessDenied);
  if ((netCode && NETWORK.has(netCode)) || NETWORK.has(code) || (status === undefined && e.$fault === undefined)) {
    return { type: AWS_ERROR.unreachable, code: netCode ?? code, message, ...(status !== undefined ? { status } : {}) };
  }
  if (e.$fault === 'server' || (status !== undefined && status >= 500)) return view(AWS_ERROR.failed);
  return view(AWS_ERROR.rejected);
}

/** Run one AWS call; its failure becomes an ApplicationFailure named after the API's code. */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw awsFailure(what, err);
  }
}

export function awsFailure(what: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const v = classifyAwsError(err);
  const text = `${what}: ${v.code}: ${v.message}`;
  const nonRetryable = AWS_NON_RETRYABLE.includes(v.type);
  return ApplicationFailure.create({ type: v.type, message: text, nonRetryable, details: [{ code: v.code, ...(v.status !== undefined ? { status: v.status } : {}) }] });
}
