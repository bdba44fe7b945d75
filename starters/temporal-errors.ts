// Temporal being unreachable, as errors and gRPC codes: apart from starters/temporal.ts so the
// error classifier (and `cutover validate`) does not load the Temporal client.
import { describeConnection, type TemporalSettings } from '../config/temporal';

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    readonly reason: string,
    hint = 'is the server running? (set --address or TEMPORAL_ADDRESS)',
  ) {
    super(`cannot reach Temporal at ${address}: ${reason}${hint ? `; ${hint}` : ''}`);
  }
}

/** Temporal answered but the connection is refused: TLS or credentials. Exit 3 as well. */
export class TemporalConnectRefusedError extends TemporalUnreachableError {
  override name = 'TemporalConnectRefusedError';
  constructor(settings: TemporalSettings, reason: string) {
    super(settings.address, reason, '');
    this.message = `cannot connect to Temporal at ${describeConnection(settings)}: ${reason}`;
  }
}

/** The gRPC status codes the CLI tells apart. */
export const GRPC = { invalidArgument: 3, deadlineExceeded: 4, unavailable: 14 } as const;

/** The gRPC status code of an error or of one of its first causes. */
export function grpcCode(err: unknown): number | undefined {
  for (let cur: unknown = err, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
