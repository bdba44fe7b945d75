// Where Temporal is, how to reach it (failing fast and clearly when it is not there), and
// links into its UI.
import { connect as tcpConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import { AUTH_CODES, explainConnectError } from '../config/temporal-errors';
import { connectOptions, describeConnection, type ConnectOptions, type TemporalSettings } from '../config/temporal';

export { addressFor, resolveTemporal, TEMPORAL_DEFAULTS, type TemporalSettings } from '../config/temporal';

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

/** HTTP/2's client preface and an empty SETTINGS frame: a gRPC server answers with its own SETTINGS. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const SETTINGS_FRAME = 4;

class ProbeFailure extends Error {
  constructor(
    message: string,
    /** The connection was made: the problem is TLS or the protocol, not reachability. */
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/**
 * Connect as the client will (TCP, then TLS with the same CA, certificate and name) and say
 * HTTP/2's hello: a refused port, an untrusted certificate, a missing client certificate or a
 * TLS/plaintext mismatch fails here at once with the reason, where gRPC would only time out.
 */
function probe(host: string, port: number, opts: ConnectOptions, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const tls = opts.tls;
    let connected = false;
    let socket: Socket;
    const done = (err?: ProbeFailure) => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    if (tls) {
      socket = tlsConnect({
        host,
        port,
        ALPNProtocols: ['h2'],
        ...(tls.serverRootCACertificate ? { ca: tls.serverRootCACertificate } : {}),
        ...(tls.clientCertPair ? { cert: tls.clientCertPair.crt, key: tls.clientCertPair.key } : {}),
        ...(tls.serverNameOverride ? { servername: tls.serverNameOverride, checkServerIdentity: checkAs(tls.serverNameOverride) } : /^[\d.]+$|:/.test(host) ? {} : { servername: host }),
      });
      socket.once('secureConnect', () => {
        connected = true;
        socket.write(H2_PREFACE);
      });
    } else {
      socket = tcpConnect({ host, port });
      socket.once('connect', () => {
        connected = true;
        socket.write(H2_PREFACE);
      });
    }
    socket.setTimeout(timeoutMs, () => done(connected ? undefined : new ProbeFailure(`no answer within ${timeoutMs / 1000}s`, false)));
    socket.once('data', (chunk: Buffer) =>
      done(chunk.length >= 4 && chunk[3] === SETTINGS_FRAME ? undefined : new ProbeFailure('the server did not answer as a gRPC (HTTP/2) server: wrong version number, does it require TLS?', true)),
    );
    socket.once('end', () => done(new ProbeFailure(tls ? 'the server closed the connection right after the TLS handshake' : 'the server closed the connection: it may require TLS (http/1.x or TLS on this port)', true)));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done(new ProbeFailure('connection refused', false));
      else if (err.code === 'ENOTFOUND') done(new ProbeFailure(`unknown host "${host}"`, false));
      else done(new ProbeFailure(`${err.code ? `${err.code}: ` : ''}${err.message.split('\n')[0]}`, connected || err.code !== 'ECONNRESET'));
    });
  });
}

/** Check the server's certificate against `name` instead of the address (serverName). */
const checkAs = (name: string) => (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);

/**
 * Connect and prove the server answers (a cheap `GetSystemInfo`), within `timeoutMs`.
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
    connection = await Connection.connect({ ...opts, connectTimeout: timeoutMs });
  } catch (err) {
    const reason = connectReason(err);
    if (AUTH_CODES.has(grpcCode(err) ?? -1) || explainConnectError(reason, settings)) throw refused(reason);
    throw new TemporalUnreachableError(address, reason);
  }
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
  } catch (err) {
    await connection.close().catch(() => undefined);
    if (AUTH_CODES.has(grpcCode(err) ?? -1)) throw refused(connectReason(err));
    throw new TemporalUnreachableError(address, `GetSystemInfo failed (${(err as Error).message})`);
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
