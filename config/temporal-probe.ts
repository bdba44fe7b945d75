// A first look at the Temporal frontend before the SDK connects: TCP, then TLS with the same CA,
// client certificate and server name the SDK will use, then HTTP/2's hello. A refused port, an
// untrusted certificate, a missing client certificate or a TLS/plaintext mismatch fails here at
// once with the reason; gRPC would only time out (the CLI) or word it unpredictably (the worker).
import { connect as tcpConnect, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { ConnectOptions } from './temporal';

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

export class ProbeFailure extends Error {
  constructor(
    message: string,
    /** The connection was made: the problem is TLS or the protocol, not reachability. */
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/** Connect as the SDK will and say HTTP/2's hello; throws ProbeFailure. */
export function probe(host: string, port: number, opts: ConnectOptions, timeoutMs: number): Promise<void> {
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
