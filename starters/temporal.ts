// Where Temporal is, how to reach it (failing fast and clearly when it is not there), and
// links into its UI.
import { connect as tcpConnect } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config/schema';

export interface TemporalSettings {
  address: string;
  namespace: string;
  uiUrl: string;
}

export const TEMPORAL_DEFAULTS: TemporalSettings = {
  address: '127.0.0.1:7233',
  namespace: 'default',
  uiUrl: 'http://127.0.0.1:8233',
};

const set = (v: string | undefined): string | undefined => (v !== undefined && v.trim() !== '' ? v.trim() : undefined);

/** Flags beat environment variables, which beat the file, which beats the defaults. */
export function temporalSettings(
  file: Config['temporal'] | undefined,
  env: NodeJS.ProcessEnv,
  flags: { address?: string; namespace?: string } = {},
): TemporalSettings {
  return {
    address: set(flags.address) ?? set(env.TEMPORAL_ADDRESS) ?? file?.address ?? TEMPORAL_DEFAULTS.address,
    namespace: set(flags.namespace) ?? set(env.TEMPORAL_NAMESPACE) ?? file?.namespace ?? TEMPORAL_DEFAULTS.namespace,
    uiUrl: set(env.CUTOVER_UI_URL) ?? file?.uiUrl ?? TEMPORAL_DEFAULTS.uiUrl,
  };
}

/** The Temporal UI page of a workflow. */
export function workflowUrl(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, workflowId: string): string {
  const base = settings.uiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`cannot reach Temporal at ${address}: ${reason}; is the server running? (set --address or TEMPORAL_ADDRESS)`);
  }
}

export interface TemporalConnection {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  close(): Promise<void>;
}

/** `host:port` or `[v6]:port`, if the address has that shape. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  return port >= 1 && port <= 65535 ? { host: (m[1] ?? m[2])!, port } : undefined;
}

/** A plain TCP connect: a refused or unroutable port fails here at once, with a clear reason. */
function probeTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no answer within ${timeoutMs / 1000}s`)));
    socket.once('connect', () => done());
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(new Error(err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? `unknown host "${host}"` : err.message)),
    );
  });
}

/**
 * Connect and prove the server answers (a cheap `GetSystemInfo`), within `timeoutMs`.
 * Throws TemporalUnreachableError.
 */
export async function connectTemporal(settings: TemporalSettings, timeoutMs = 5000): Promise<TemporalConnection> {
  const { address, namespace } = settings;
  const target = splitAddress(address);
  if (!target) throw new TemporalUnreachableError(address, 'the address must look like host:port');
  try {
    await probeTcp(target.host, target.port, timeoutMs);
  } catch (err) {
    throw new TemporalUnreachableError(address, (err as Error).message);
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  } catch (err) {
    throw new TemporalUnreachableError(address, (err as Error).message);
  }
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw new TemporalUnreachableError(address, `GetSystemInfo failed (${(err as Error).message})`);
  }
  const client = new Client({ connection, namespace });
  return { client, connection, settings, close: () => connection.close() };
}

const QUERY_TIMEOUT_MS = 5000;

/** Run a query (or any call) on this connection, giving up after a few seconds. */
export function withQueryDeadline<T>(t: TemporalConnection, fn: () => Promise<T>): Promise<T> {
  return t.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, fn);
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
