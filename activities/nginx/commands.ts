// Command builders for the nginx router. Pure: they return strings, run nothing.
import type { Color, NginxRouter } from '../../contract/spec';
import { assertSafeName, hostVars, quote, renderPath, renderTemplate, UnsafeInputError } from '../shell';


export interface UpstreamContent {
  upstreamName: string;
  /** Backend address nginx proxies to (the slots' address on that host). */
  address: string;
  /** The colour that takes the traffic (with a canary: the stable one, the rest of it). */
  color: Color;
  version: string;
  port: number;
  /**
   * Port of the colour kept alive for rollback, written as an nginx `backup` server: if the new
   * colour stops answering (crashes) before verification catches it and switches back, nginx
   * passes requests to the old colour instead of failing them.
   */
  backupPort?: number;
  /** A canary taking `weight` percent (1-99) of the requests, by nginx's weighted round robin. */
  canary?: { color: Color; version: string; port: number; weight: number };
}

export type HostRef = { name: string; address: string };

const MARKER = '# managed by cutover:';

/** The whole include file cutover owns: one upstream block, with a marker naming colours and versions. */
export function renderUpstream(u: UpstreamContent): string {
  assertSafeName('router.upstreamName', u.upstreamName);
  assertSafeName('version', u.version);
  if (!/^[A-Za-z0-9.:_\[\]-]{1,255}$/.test(u.address)) {
    throw new UnsafeInputError(`slots.address: ${JSON.stringify(u.address)} is not an address`);
  }
  const c = u.canary && u.canary.weight !== 0 ? u.canary : undefined;
  if (c) {
    assertSafeName('version', c.version);
    if (!Number.isInteger(c.weight) || c.weight < 1 || c.weight > 99) throw new UnsafeInputError(`canary weight ${c.weight} must be a whole number from 1 to 99`);
    if (c.port === u.port) throw new UnsafeInputError('the canary needs a port of its own');
  }
  const servers = c
    ? [`    server ${u.address}:${u.port} weight=${100 - c.weight};`, `    server ${u.address}:${c.port} weight=${c.weight};`]
    : [
        `    server ${u.address}:${u.port};`,
        ...(u.backupPort !== undefined && u.backupPort !== u.port ? [`    server ${u.address}:${u.backupPort} backup;`] : []),
      ];
  return [
    `${MARKER} color=${u.color} version=${u.version}${c ? ` canary=${c.color}:${c.version} weight=${c.weight}` : ''}`,
    `upstream ${u.upstreamName} {`,
    ...servers,
    `}`,
    '',
  ].join('\n');
}

export interface ParsedCanary {
  color: Color;
  version: string | null;
  /** Percent of requests, from the server lines' weights. */
  weight: number;
}

export interface ParsedUpstream {
  /** Colour of the port nginx sends (most of) the traffic to (not the marker), or null if unknown. */
  color: Color | null;
  version: string | null;
  port: number | null;
  /** A second primary server with its share: a canary in progress. */
  canary: ParsedCanary | null;
}

interface ServerLine {
  port: number;
  weight: number;
  backup: boolean;
}

function serverLines(text: string): ServerLine[] {
  // The address may itself contain colons (`[::1]:3005`): the port is what follows the last one.
  const re = /^\s*server\s+[^\s;]+:(\d+)((?:\s+[a-z_]+(?:=[^\s;]+)?)*)\s*;/gm;
  return [...text.matchAll(re)].map((m) => {
    const params = m[2] ?? '';
    const weight = /\sweight=(\d+)/.exec(params);
    return { port: Number(m[1]), weight: weight ? Number(weight[1]) : 1, backup: /\sbackup\b/.test(params) };
  });
}

/** Read an upstream file back. The `server` lines are the truth; the marker only adds the versions. */
export function parseUpstream(text: string, ports: Record<Color, number>): ParsedUpstream {
  const colorOf = (port: number): Color | null => (port === ports.blue ? 'blue' : port === ports.green ? 'green' : null);
  const primary = serverLines(text).filter((s) => !s.backup);
  const main = primary.reduce<ServerLine | undefined>((best, s) => (!best || s.weight > best.weight ? s : best), undefined);
  const port = main?.port ?? null;
  const color = port === null ? null : colorOf(port);
  const marker = new RegExp(`^${MARKER} color=(blue|green) version=([A-Za-z0-9._-]+)(?: canary=(blue|green):([A-Za-z0-9._-]+) weight=\\d+)?\\s*$`, 'm').exec(text);
  const version = marker && marker[1] === color ? (marker[2] ?? null) : null;
  const second = primary.find((s) => s !== main);
  let canary: ParsedCanary | null = null;
  if (second && main) {
    const cColor = colorOf(second.port);
    const total = main.weight + second.weight;
    if (cColor && cColor !== color) {
      canary = { color: cColor, version: marker?.[3] === cColor ? (marker[4] ?? null) : null, weight: Math.round((100 * second.weight) / total) };
    }
  }
  return { color, version, port, canary };
}


/** Print the upstream file, or nothing if it does not exist yet (first deploy). */
export function readUpstreamCommand(router: NginxRouter, host: HostRef): string {
  const file = quote(renderPath(router.upstreamFile, hostVars(host)));
  return `if [ -f ${file} ]; then cat ${file}; fi`;
}

/** Exit status of the switch script when `nginx -t` refused the new file (old file restored). */
export const CONFIG_REJECTED_EXIT = 65;

/**
 * Replace the upstream file atomically (temp file + rename), test nginx, and reload only if
 * the test passes; otherwise put the old file back and exit CONFIG_REJECTED_EXIT.
 * The new content arrives on stdin so no config text is ever interpolated into the command.
 */
export function switchUpstreamCommand(router: NginxRouter, host: HostRef): string {
  const vars = hostVars(host);
  const file = quote(renderPath(router.upstreamFile, vars));
  const test = renderTemplate(router.test, vars);
  const reload = renderTemplate(router.reload, vars);
  return [
    'set -eu',
    `f=${file}`,
    'tmp="$f.cutover-new.$$"',
    'bak="$f.cutover-prev.$$"',
    'cat > "$tmp"',
    'had_old=0',
    'if [ -f "$f" ]; then cp -p "$f" "$bak"; had_old=1; fi',
    'mv -f "$tmp" "$f"',
    `if ! out=$( { ${test} ; } 2>&1 ); then`,
    '  if [ "$had_old" = 1 ]; then mv -f "$bak" "$f"; else rm -f "$f"; fi',
    '  printf "%s\\n" "$out" >&2',
    `  exit ${CONFIG_REJECTED_EXIT}`,
    'fi',
    'rm -f "$bak"',
    reload,
  ].join('\n');
}

/**
 * Reload nginx when its config tests clean. Used when the upstream file already says what we
 * want: an earlier attempt may have died between writing it and reloading.
 */
export function reloadIfValidCommand(router: NginxRouter, host: HostRef): string {
  const vars = hostVars(host);
  return `${renderTemplate(router.test, vars)} && ${renderTemplate(router.reload, vars)}`;
}

export interface VerifyCommandOptions {
  versionHeader: string;
  /** The version every answer must carry. */
  version: string;
  /** How many answers in a row must come from `version`. */
  requests: number;
  /** Per request. */
  timeoutMs: number;
  /**
   * How long wrong answers are tolerated before giving up (polling every 100 ms): `nginx -s
   * reload` only signals the master, and old workers keep answering from the old config until
   * the new ones have taken over.
   */
  settleMs: number;
}

/**
 * Requests through the router from the host itself until `requests` answers in a row carry
 * `version`, or the settle time is used up. Prints one `<status> <version header>` line per
 * request; judgeVerifyOutput judges them.
 */
export function verifyThroughRouterCommand(router: NginxRouter, host: HostRef, o: VerifyCommandOptions): string {
  // The same rule as the config schema (an HTTP token); the name only ever reaches the shell quoted.
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(o.versionHeader)) {
    throw new UnsafeInputError(`verify.versionHeader: ${JSON.stringify(o.versionHeader)} is not a header name`);
  }
  const seconds = Math.max(0.1, o.timeoutMs / 1000).toFixed(1);
  const n = Math.max(1, Math.floor(o.requests));
  const tries = n + Math.max(0, Math.ceil(o.settleMs / 100));
  return [
    `v=${quote(assertSafeName('version', o.version))}; ok=0; t=0;`,
    `while [ "$ok" -lt ${n} ] && [ "$t" -lt ${tries} ]; do t=$((t+1));`,
    `line=$(curl -sS -o /dev/null --max-time ${seconds} -w ${quote(`%{http_code} %header{${o.versionHeader}}`)} ${quote(renderPath(router.url, hostVars(host)))} 2>/dev/null) || true;`,
    // curl prints its -w line even when the request fails; only when it printed nothing at
    // all (not installed...) stand in "000 ".
    `printf '%s\\n' "\${line:-000 }";`,
    'case "${line%% *}" in 2??|3??) if [ "${line#* }" = "$v" ]; then ok=$((ok+1)); continue; fi;; esac;',
    'ok=0; sleep 0.1;',
    'done',
  ].join(' ');
}

export interface VerifyLine {
  status: number;
  version: string;
}

/** Did the last `requests` answers all come from `version` (2xx/3xx)? */
export function judgeVerifyOutput(answers: VerifyLine[], version: string, requests: number): boolean {
  const last = answers.slice(-requests);
  return last.length === requests && last.every((a) => a.status >= 200 && a.status < 400 && a.version === version);
}

export function parseVerifyOutput(stdout: string): VerifyLine[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [status, version] = l.split(/\s+/, 2);
      return { status: Number(status), version: version ?? '' };
    });
}
