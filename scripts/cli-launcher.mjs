#!/usr/bin/env node
// dist/cli/bin.mjs, the `cutover` command: runs the bundled CLI (dist/cli/cutover.cjs, one
// CommonJS file) through V8's code cache (dist/cli/cutover.cjs.v8cache). Node 20 keeps no
// compile cache of its own (module.enableCompileCache is Node 22), and compiling the bundle
// (the Temporal client and its protobuf definitions, zod, YAML) cost ~0.15 s of every start.
// The build writes the cache; a cache V8 rejects (another Node version) is written again once.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, 'cutover.cjs');
const cacheFile = `${file}.v8cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8').replace(/^#!.*/, '')), { filename: file, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  // At exit, so the cache holds what this command compiled; a read-only install just goes without.
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
script.runInThisContext()(module.exports, createRequire(file), module, file, dir);
