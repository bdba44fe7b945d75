// Where Temporal is, how to reach it (failing fast and clearly when it is not there), and
// links into its UI.
import { Client, Connection } from '@temporalio/client';
import { AUTH_CODES, explainConnectError } from '../config/temporal-errors';
import { connectOptions, describeConnection, type TemporalSettings } from '../config/temporal';
import { probe, ProbeFailure, splitAddress } from '../config/temporal-probe';
import { grpcCode, TemporalConnectRefusedError, TemporalUnreachableError } from './temporal-errors';

export { splitAddress } from '../config/temporal-probe';
export { GRPC, grpcCode, TemporalConnectRefusedError, TemporalUnreachableError } from './temporal-errors';

export { addressFor, resolveTemporal, TEMPORAL_DEFAULTS, type TemporalSettings } from '../config/temporal';

/** The Temporal UI page of a workflow. */
export function workflowUrl(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, workflowId: string): string {
  const base = settings.uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export interface TemporalConnection {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  close(): Promise<void>;
}

/**
 * Connect and prove the server answers (the SDK's `GetSystemInfo` in Connection.connect), within `timeoutMs`.
 * Throws TemporalUnreachableError (TemporalConnectRefusedError for TLS and credentials), or a
 * ConfigError when a TLS file cannot be used.
 */
export async function connectTemporal(settings: TemporalSettings, timeoutMs = 5000): Promise<TemporalConnection> {
  const { address, namespace } = settings;
  const target = splitAddress(address);
  if (!target) throw new TemporalUnreachableError(address, 'the address must look like host:port');
  const opts = connectOptions(settings);
  const refused = (reason: string): TemporalConnectRefusedError => {
    const why = explainConnectError(reason, settings);
    return new TemporalConnectRefusedError(settings, why ? `${why} (${reason})` : reason);
  };
  try {
    await probe(target.host, target.port, opts, timeoutMs);
  } catch (err) {
    if (err instanceof ProbeFailure && err.refused) throw refused(err.message);
    throw new TemporalUnreachableError(address, (err as Error).message);
  }
  let connection: Connection;
  try {
    // Connection.connect already calls GetSystemInfo within connectTimeout (its errors, auth
    // ones included, arrive here as the cause): a second call only cost a round trip.
    connection = await Connection.connect({ ...opts, connectTimeout: timeoutMs });
  } catch (err) {
    const reason = connectReason(err);
    if (AUTH_CODES.has(grpcCode(err) ?? -1) || explainConnectError(reason, settings)) throw refused(reason);
    throw new TemporalUnreachableError(address, reason);
  }
  const client = new Client({ connection, namespace });
  return { client, connection, settings, close: () => connection.close() };
}

/** The innermost message of a connect error (the SDK wraps the gRPC one). */
function connectReason(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? (e as Error & { details?: string }).details || e.message : String(e);
}

const QUERY_TIMEOUT_MS = 5000;

/** Run a query (or any call) on this connection, giving up after a few seconds. */
export function withQueryDeadline<T>(t: TemporalConnection, fn: () => Promise<T>): Promise<T> {
  return t.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, fn);
}
