// Command builders for the two slots on a host. Pure: they return strings, run nothing.
import type { Color, HealthSpec, HostSpec, SlotsSpec } from '../../contract/spec';
import { assertSafeName, hostVars, quote, renderPath, renderTemplate, UnsafeInputError, type TemplateVars } from '../shell';

export function slotVars(host: HostSpec, slots: SlotsSpec, color: Color, version?: string): TemplateVars {
  const vars: Record<string, string | number> = { ...hostVars(host), color, port: slots[color].port };
  if (version !== undefined) vars.version = assertSafeName('version', version);
  return vars;
}

/** The address slots listen on, with `{{address}}`/`{{host}}` filled for this host. */
export function slotAddress(host: HostSpec, slots: SlotsSpec): string {
  return renderPath(slots.address, hostVars(host));
}

export function startSlotCommand(host: HostSpec, slots: SlotsSpec, color: Color, version: string): string {
  return renderTemplate(slots.start, slotVars(host, slots, color, version));
}

export function stopSlotCommand(host: HostSpec, slots: SlotsSpec, color: Color): string {
  // {{version}} is not known when stopping whatever runs in a slot.
  return renderTemplate(slots.stop, slotVars(host, slots, color));
}

/** `slots.installed` for this version: exits 0 when the version is on the host. */
export function installedCheckCommand(host: HostSpec, slots: SlotsSpec, version: string): string {
  if (!slots.installed) throw new Error('slots.installed is not configured');
  return renderTemplate(slots.installed, { ...hostVars(host), version: assertSafeName('version', version) });
}

/**
 * One health probe, run on the host. Prints `<status> <seconds>` for the default HTTP check;
 * a custom `slots.health` command is judged by its exit status alone.
 */
export function healthProbeCommand(
  host: HostSpec,
  slots: SlotsSpec,
  health: HealthSpec,
  color: Color,
  version: string,
): string {
  if (slots.health) return renderTemplate(slots.health, slotVars(host, slots, color, version));
  return curlProbeCommand(`http://${slotAddress(host, slots)}:${slots[color].port}${health.path}`, health.timeoutMs);
}

/** One request, printing `<status> <seconds>` (parseProbeOutput reads it). */
function curlProbeCommand(url: string, timeoutMs: number): string {
  return `curl -sS -o /dev/null --max-time ${(timeoutMs / 1000).toFixed(3)} -w ${quote('%{http_code} %{time_total}')} ${quote(url)}`;
}

/**
 * A canary's HTTP metric, run on the host: `{{address}}` is the slots' address there, `{{port}}`
 * the slot's port, `{{host}}` the host's name.
 */
export function slotUrlProbeCommand(host: HostSpec, slots: SlotsSpec, color: Color, urlTemplate: string, timeoutMs: number): string {
  const url = renderPath(urlTemplate, { host: host.name, address: slotAddress(host, slots), port: slots[color].port });
  if (!/^https?:\/\/[^\s'"`$\\]+$/.test(url)) throw new UnsafeInputError(`metric url: ${JSON.stringify(url)} is not a plain http(s) URL`);
  return curlProbeCommand(url, timeoutMs);
}

export interface ProbeResult {
  status: number;
  seconds: number;
}

export function parseProbeOutput(stdout: string): ProbeResult | null {
  const m = /^(\d{3}) ([0-9.]+)/.exec(stdout.trim());
  return m ? { status: Number(m[1]), seconds: Number(m[2]) } : null;
}
