// Any error of a command → the exit code and message the CLI ends with.
import { ConfigError } from '../config/load';
import { causeChain } from './format';
import { CliError, EXIT, type ExitCode } from './output';
import { GRPC, grpcCode, TemporalUnreachableError } from './temporal-errors';

/** Any error → exit code and message. */
export function classify(err: unknown, address: string): { exitCode: ExitCode; message: string; details: Record<string, unknown> } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message, details: err.details };
  if (err instanceof ConfigError) return { exitCode: EXIT.badInput, message: err.format(), details: { issues: err.issues } };
  if (err instanceof TemporalUnreachableError) return { exitCode: EXIT.unreachable, message: err.message, details: {} };
  const code = grpcCode(err);
  const reason = causeChain(err).join('; caused by: ');
  if (code === GRPC.unavailable || code === GRPC.deadlineExceeded) {
    return { exitCode: EXIT.unreachable, message: new TemporalUnreachableError(address, reason).message, details: {} };
  }
  if (code === GRPC.invalidArgument && /search attribute/i.test(reason)) {
    return {
      exitCode: EXIT.failed,
      message: `Temporal refused the request: ${reason} (register the cutover search attributes on the server; see temporal-dev.yml)`,
      details: {},
    };
  }
  return { exitCode: EXIT.failed, message: `error: ${reason}`, details: {} };
}
