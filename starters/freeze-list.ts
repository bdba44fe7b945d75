// `cutover freeze list`: per environment, the freeze in force and the next windows, in the
// window's time zone and the viewer's. Reads only the config file.
import { DateTime } from 'luxon';
import { activeFreeze, describeInstant, upcoming } from '../activities/freeze/calendar';
import type { ActiveFreeze, FreezeOccurrence } from '../contract/freeze';
import { checkNames, loadCliConfig, type GlobalOptions } from './config-file';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';

interface EnvFreezes {
  app: string;
  env: string;
  onFreeze: string;
  breakGlassApprovers: string[];
  active: ActiveFreeze | null;
  upcoming: FreezeOccurrence[];
}

export function freezeListCommand(opts: { app?: string; env?: string; count: string }, g: GlobalOptions, io: Io, out: Output): Outcome {
  checkNames({ app: opts.app, env: opts.env });
  const count = Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new CliError(`--count: expected a whole number from 1 to 100, got ${JSON.stringify(opts.count)}`, EXIT.badInput);
  const { config } = loadCliConfig(g, io);
  const now = io.now().getTime();
  const viewer = io.env.TZ && DateTime.local().setZone(io.env.TZ).isValid ? io.env.TZ : (DateTime.local().zoneName ?? 'UTC');
  const mine = (at: number): string => describeInstant(at, viewer);
  const found: EnvFreezes[] = [];
  for (const [app, a] of Object.entries(config.apps)) {
    if (opts.app !== undefined && app !== opts.app) continue;
    for (const [env, e] of Object.entries(a.environments)) {
      if (opts.env !== undefined && env !== opts.env) continue;
      const windows = [...config.freezes, ...e.freezes];
      found.push({ app, env, onFreeze: e.onFreeze, breakGlassApprovers: e.breakGlass?.approvers ?? [], active: activeFreeze(windows, now), upcoming: upcoming(windows, now, count) });
    }
  }
  if (found.length === 0) throw new CliError(`no environment matches${opts.app ? ` --app ${opts.app}` : ''}${opts.env ? ` --env ${opts.env}` : ''}`, EXIT.badInput);
  for (const f of found) {
    out.line(`${f.app}/${f.env}  (onFreeze: ${f.onFreeze}; break-glass approvers: ${f.breakGlassApprovers.join(', ') || 'none'})`);
    if (f.active) out.line(`  now:   FROZEN by ${f.active.windows.join(' + ')} until ${f.active.endsText}  (your time: ${mine(f.active.endsAt)})`);
    else out.line('  now:   open for deploys');
    if (f.upcoming.length === 0) out.line('  next:  no freeze windows');
    for (const o of f.upcoming) {
      out.line(`  ${o.startsAt <= now ? 'open: ' : 'next: '} ${o.window}: ${o.startsText} → ${o.endsText}  (your time: ${mine(o.startsAt)} → ${mine(o.endsAt)})`);
    }
  }
  return { exitCode: EXIT.ok, report: { ok: true, viewerTimezone: viewer, environments: found } };
}
