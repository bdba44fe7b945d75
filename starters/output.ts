// What the CLI gives back: human lines, an exit code, and the fields of the `--json` object.
import { randomBytes } from 'node:crypto';

import { failureCategory, type FailureCategory } from '../contract/failures';

/**
 * 0 done; 1 it changed things, failed, and rolled back; 2 bad input, nothing changed; 3 Temporal
 * unreachable, nothing asked; 4 refused, the environment is not deployable as it is, nothing changed.
 */
export const EXIT = { ok: 0, failed: 1, badInput: 2, unreachable: 3, refused: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The `category` of the `--json` object: the exit code in words. */
export const EXIT_CATEGORY: Record<ExitCode, FailureCategory | 'ok' | 'unreachable'> = {
  0: 'ok',
  1: 'failed',
  2: 'bad-input',
  3: 'unreachable',
  4: 'refused',
};

const EXIT_OF_CATEGORY: Record<FailureCategory, ExitCode> = { 'bad-input': EXIT.badInput, refused: EXIT.refused, failed: EXIT.failed };

/** How an operation that failed with this ApplicationFailure type exits. */
export const exitCodeOfFailure = (type: string | undefined): ExitCode => EXIT_OF_CATEGORY[failureCategory(type)];

/** Everything the CLI touches outside itself, so tests can drive it in-process. */
export interface Io {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  now(): Date;
  random(): string;
  sleep(ms: number): Promise<void>;
}

export const processIo: Io = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  now: () => new Date(),
  random: () => randomBytes(3).toString('hex'),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Human lines go to stdout, or to stderr under --json (stdout then carries one JSON object). */
export class Output {
  constructor(
    private readonly io: Io,
    readonly json: boolean,
  ) {}
  line(text: string): void {
    if (this.json) this.io.stderr(text);
    else this.io.stdout(text);
  }
  error(text: string): void {
    this.io.stderr(text);
  }
}

/** What a command ends with: its exit code and the fields of the `--json` object. */
export interface Outcome {
  exitCode: ExitCode;
  report: Record<string, unknown>;
  /** Print `report` as it is under --json (status prints the state object itself). */
  raw?: boolean;
}

/** A failure the CLI foresaw, with the exit code and `--json` fields to end with. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
