#!/usr/bin/env node
// dist/cli/bin.mjs, the `cutover` command: runs the bundled CLI (scripts/bundle-cli.mjs) through
// V8's code cache. dist/cli/front.cjs (commander and the command table, all --help needs) runs
// first; dist/cli/commands.cjs (the commands' bodies: the Temporal client and its protobuf
// definitions, zod, YAML) is loaded only when a command runs, when the front asks for
// `cutover-commands:<module>` (for `validate`, dist/cli/validate.cjs: only the config's modules
// and the error classifier). Node 20 keeps no compile cache of its own
// (module.enableCompileCache is Node 22), and compiling those bundles cost ~0.15 s of every
// start. The build writes each bundle's cache (<bundle>.v8cache); a cache V8 rejects (another
// Node version) is written again at exit.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const nodeRequire = createRequire(join(dir, 'front.cjs'));
const PREFIX = 'cutover-commands:';
let commands;

/** Compile a CommonJS bundle with its code cache (writing the cache at exit if there was none) and run it. */
function load(name, require) {
  const file = join(dir, name);
  const cacheFile = `${file}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(readFileSync(file, 'utf8').replace(/^#!.*/, '')), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    // At exit, so the cache holds what this command compiled; a read-only install goes without.
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        /* no cache this time */
      }
    });
  }
  const module = { exports: {}, id: file, filename: file, loaded: false };
  script.runInThisContext()(module.exports, require, module, file, dir);
  return module.exports;
}

/** The command word: the first argument that is neither an option nor the value of one. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-c' || a === '--config' || a === '--address' || a === '--namespace') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}
// `validate` needs only the config modules: their own bundle (validate.cjs), a tenth the size.
const bundle = commandOf(process.argv.slice(2)) === 'validate' ? 'validate.cjs' : 'commands.cjs';

function frontRequire(id) {
  if (!id.startsWith(PREFIX)) return nodeRequire(id);
  commands ??= load(bundle, nodeRequire);
  const name = id.slice(PREFIX.length);
  // A module validate.cjs lacks (bundle-cli.mjs checks its list against cli.ts) comes from the full bundle.
  return name in commands ? commands[name] : load('commands.cjs', nodeRequire)[name];
}
frontRequire.resolve = nodeRequire.resolve;
frontRequire.cache = nodeRequire.cache;

load('front.cjs', frontRequire);
