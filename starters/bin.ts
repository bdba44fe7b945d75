#!/usr/bin/env node
// The `cutover` process: run the CLI, exit with its code as soon as it is done (no timer or
// socket left by a library may keep it alive), and say on Ctrl-C or SIGTERM that the operation goes on.
import { main } from './cli';

// Deprecation warnings are for developers, not for the operator reading a CI log (grpc-js sets
// TLS's server name to an IP address when Temporal is addressed by IP: DEP0123).
process.noDeprecation = true;

// SIGTERM (a CI job cancelled) says the same as Ctrl-C; the exit codes are the shell's 128 + signal.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    process.stderr.write('\nstopped following; the operation itself goes on in Temporal (see the link above)\n');
    process.exit(code);
  });
}

void main(process.argv.slice(2)).then((code) => {
  // Writes to pipes and files are synchronous on Linux; the empty write flushes a TTY's.
  process.stdout.write('', () => process.exit(code));
});
