// The config file as the CLI finds and reads it, the names it is given, and `cutover validate`,
// which needs nothing else (so it starts without loading the Temporal client).
import { ConfigError, loadConfig, summarize } from '../config/load';
import { temporalFileIssues } from '../config/temporal';
import type { Config } from '../config/schema';
import { unsafeNameMessage } from '../contract/names';
import { CliError, EXIT, type Io, type Outcome, type Output } from './output';

export type GlobalOptions = {
  config?: string;
  address?: string;
  namespace?: string;
  json?: boolean;
};

export interface OperationOptions {
  wait?: boolean;
  key?: string;
}

/** Check each named argument, in order; throws a bad-input CliError. */
export function checkNames(names: Record<string, string | undefined>): void {
  for (const [field, value] of Object.entries(names)) {
    const problem = value === undefined ? undefined : unsafeNameMessage(field, value);
    if (problem !== undefined) throw new CliError(problem, EXIT.badInput, { field });
  }
}

export function configPath(g: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return g.config ?? (env.CUTOVER_CONFIG || 'cutover.yml');
}

export function loadCliConfig(g: GlobalOptions, io: Io): { config: Config; file: string } {
  const file = configPath(g, io.env);
  return { config: loadConfig(file), file };
}

export function validateCommand(g: GlobalOptions, io: Io, out: Output): Outcome {
  const { config, file } = loadCliConfig(g, io);
  const tlsIssues = temporalFileIssues({ temporal: config.temporal, path: file });
  if (tlsIssues.length > 0) throw new ConfigError(file, tlsIssues);
  const s = summarize(config);
  out.line(`${file}: OK (${s.apps} apps, ${s.environments} environments, ${s.hosts} hosts)`);
  for (const note of s.notes) out.error(`note: ${note}`);
  return { exitCode: EXIT.ok, report: { ok: true, file, ...s } };
}

