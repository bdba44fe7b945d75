// What a failed connection to Temporal means, in words an operator can act on. The CLI's client
// (Node's TLS, through @grpc/grpc-js) and the worker's (rustls, in the SDK's core) word the same
// problems differently; both end up here.
import type { TemporalSettings } from './temporal';

interface Known {
  re: RegExp;
  what: string;
  /** Which settings to look at. */
  fix: (s: TemporalSettings) => string;
}

const caSettings = 'temporal.tls.caFile, TEMPORAL_TLS_SERVER_CA_CERT_PATH or the profile\'s server_ca_cert_path';
const certSettings = 'temporal.tls.certFile/keyFile, TEMPORAL_TLS_CLIENT_CERT_PATH/TEMPORAL_TLS_CLIENT_KEY_PATH or the profile\'s client_cert_path/client_key_path';

const KNOWN: Known[] = [
  {
    re: /SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate|UnknownIssuer/i,
    what: "the server's certificate is not signed by a CA this client trusts",
    fix: (s) => (s.tls && s.tls.ca ? `the CA in ${originText(s.tls.ca.origin)} did not sign it; check ${caSettings}` : `set the server's CA with ${caSettings}`),
  },
  {
    re: /ERR_TLS_CERT_ALTNAME_INVALID|altnames|NotValidForName|CertNotValidForName|does not match certificate/i,
    what: "the server's certificate is not valid for the name this client checks",
    fix: (s) => `the name checked is ${s.tls && s.tls.serverName ? `"${s.tls.serverName}" (serverName)` : `the host of ${s.address}`}; set temporal.tls.serverName or TEMPORAL_TLS_SERVER_NAME to a name in the certificate`,
  },
  {
    re: /CERT_HAS_EXPIRED|certificate has expired|\bExpired\b|CERT_NOT_YET_VALID|NotValidYet/i,
    what: "the server's certificate has expired or is not valid yet",
    fix: () => 'renew the server certificate, or check this machine\'s clock',
  },
  {
    re: /CERTIFICATE_REQUIRED|certificate required|CertificateRequired|peer did not return a certificate/i,
    what: 'the server requires a client certificate (mTLS) and none was sent',
    fix: () => `set ${certSettings}`,
  },
  {
    re: /UNKNOWN_CA|alert unknown ca|BAD_CERTIFICATE|alert bad certificate|UnknownCA|BadCertificate|CERTIFICATE_UNKNOWN/i,
    what: 'the server refused this client\'s certificate (not signed by a CA it trusts, or not a client certificate)',
    fix: () => `check the client certificate in ${certSettings}`,
  },
  {
    re: /closed the connection right after the TLS handshake/,
    what: "the server ended the connection right after the TLS handshake, as a server does when it refuses this client's certificate or wants one",
    fix: (s) => (s.tls && s.tls.cert ? `check that the server trusts the client certificate in ${originText(s.tls.cert.origin)}` : `set ${certSettings}`),
  },
  {
    re: /WRONG_VERSION_NUMBER|wrong version number|InvalidContentType|packet length too long|http\/1\.x/i,
    what: 'the server does not speak TLS on this port',
    fix: () => 'turn TLS off (TEMPORAL_TLS=false, or remove temporal.tls) or use the server\'s TLS port',
  },
  {
    re: /UNAUTHENTICATED|valid authentication credentials|unauthori[sz]ed/i,
    what: 'the server refused the credentials (API key missing or wrong)',
    fix: (s) => (s.apiKeyFrom ? `check the API key in ${s.apiKeyFrom}` : 'set TEMPORAL_API_KEY, or name the variable that holds it in temporal.apiKeyEnv'),
  },
  {
    re: /PERMISSION_DENIED|permission denied|not authorized/i,
    what: 'the server refused access (the credentials do not allow this namespace)',
    fix: (s) => `check the namespace (${s.namespace}) and the certificate or API key it accepts`,
  },
];

function originText(o: { file: string; path: string }): string {
  return o.file === 'environment' ? o.path : `${o.path} (${o.file})`;
}

/** A readable explanation of a connection failure, or undefined if it is not a TLS/auth problem we know. */
export function explainConnectError(raw: string, s: TemporalSettings): string | undefined {
  const k = KNOWN.find((x) => x.re.test(raw));
  return k ? `${k.what}: ${k.fix(s)}` : undefined;
}

/** gRPC codes that mean the server was reached and refused the caller. */
export const AUTH_CODES: ReadonlySet<number> = new Set([7, 16]);
