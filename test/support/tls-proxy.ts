// A TLS-terminating gRPC proxy in front of the Temporal dev server (which speaks only plaintext),
// and a test PKI made with openssl: what a Temporal cluster with TLS, mTLS or API keys looks like
// to the CLI and the worker, on loopback.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** The CA that signed the server's and the client's certificates. */
  ca: string;
  /** A CA that signed nothing here: trusting it instead of `ca` must fail. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by `otherCa`: a server that trusts `ca` must refuse it. */
  strangerCert: string;
  strangerKey: string;
  /** The DNS name in the server's certificate (besides IP 127.0.0.1). */
  serverName: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and its key (EC P-256: fast to make, and what rustls and Node both accept). */
function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

function makeLeaf(dir: string, name: string, ca: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`], dir);
}

/** Generate the test PKI in `dir` (about 0.1 s). */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const serverName = 'temporal.cutover.test';
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'server', 'ca', `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName},IP:127.0.0.1\n`);
  makeLeaf(dir, 'client', 'ca', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  makeLeaf(dir, 'stranger', 'other-ca', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    otherCa: p('other-ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.pem'),
    strangerKey: p('stranger.key'),
    serverName,
  };
}

export interface TlsProxyOptions {
  /** The plaintext gRPC server behind it, `host:port`. */
  upstream: string;
  pki: TestPki;
  /** Require a client certificate signed by the test CA (mTLS). */
  requireClientCert?: boolean;
  /** Require `authorization: Bearer <apiKey>` on every call, as Temporal Cloud does. */
  apiKey?: string;
}

export interface TlsProxy {
  address: string;
  /** The `authorization` header of every call seen (undefined: none sent). */
  authorizations: (string | undefined)[];
  /** Subjects of the client certificates of the calls seen. */
  clientSubjects: string[];
  /** TLS handshakes that failed, with the reason the server saw. */
  handshakeErrors: string[];
  close(): Promise<void>;
}

const UNAUTHENTICATED = 16;

/**
 * Forwards every gRPC call (headers, messages both ways, trailers, cancellation) to the upstream
 * over one plaintext HTTP/2 connection. With `apiKey`, a call without the right bearer token is
 * answered UNAUTHENTICATED and never reaches the server.
 */
export async function startTlsProxy(o: TlsProxyOptions): Promise<TlsProxy> {
  const key = readFileSync(o.pki.serverKey);
  const cert = readFileSync(o.pki.serverCert);
  const ca = readFileSync(o.pki.ca);
  const server = http2.createSecureServer({
    key,
    cert,
    ...(o.requireClientCert ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const authorizations: (string | undefined)[] = [];
  const clientSubjects: string[] = [];
  const handshakeErrors: string[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  let upstream: http2.ClientHttp2Session | undefined;
  const upstreamSession = (): http2.ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${o.upstream}`);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };

  server.on('tlsClientError', (err: Error) => handshakeErrors.push(err.message));
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const header = headers.authorization;
    const auth = Array.isArray(header) ? header.join(',') : header;
    authorizations.push(auth);
    const peer = (stream.session?.socket as TLSSocket | undefined)?.getPeerCertificate?.();
    const cn = peer?.subject?.CN;
    if (cn !== undefined) clientSubjects.push(Array.isArray(cn) ? cn.join(',') : cn);
    if (o.apiKey !== undefined && auth !== `Bearer ${o.apiKey}`) {
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(UNAUTHENTICATED),
          'grpc-message': auth === undefined ? 'Request unauthorized: no API key' : 'Request unauthorized: wrong API key',
        },
        { endStream: true },
      );
      return;
    }
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      if (k === ':scheme' || k === ':authority' || typeof k !== 'string') continue;
      forwarded[k] = v;
    }
    const up = upstreamSession().request(forwarded);
    up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    let trailers: http2.IncomingHttpHeaders | undefined;
    let wantsTrailers = false;
    const sendTrailers = (): void => {
      if (!wantsTrailers || !trailers || stream.destroyed) return;
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(trailers)) if (!k.startsWith(':')) out[k] = v;
      stream.sendTrailers(out);
    };
    up.on('response', (h, flags) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (k === ':status' || !k.startsWith(':')) out[k] = v;
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
        stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      up.pipe(stream);
    });
    up.on('trailers', (t) => {
      trailers = t;
      sendTrailers();
    });
    stream.on('wantTrailers', () => {
      wantsTrailers = true;
      sendTrailers();
    });
    stream.pipe(up);
    stream.on('close', () => {
      if (!up.closed) up.close(stream.rstCode || http2.constants.NGHTTP2_CANCEL);
    });
    up.on('close', () => {
      if (!stream.closed && !trailers) stream.close(up.rstCode || http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    authorizations,
    clientSubjects,
    handshakeErrors,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        upstream?.destroy();
        server.close(() => resolve());
      }),
  };
}
