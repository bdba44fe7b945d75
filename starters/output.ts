// What the CLI gives back: human lines, an exit code, and the fields of the `--json` object.
import { randomBytes } from 'node:crypto';

export const EXIT = { ok: 0, failed: 1, badInput: 2, unreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

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
