// The CLI as two CommonJS bundles (scripts/build.sh runs this): dist/cli/front.cjs is commander
// and the command table (starters/bin.ts, starters/cli.ts), enough for --help; each module cli.ts
// imports lazily (a command's body, the error classifier) is in dist/cli/commands.cjs, which the
// launcher (scripts/cli-launcher.mjs) loads only when a command runs; `validate` loads
// dist/cli/validate.cjs instead, the few of them it needs. Each starts through V8's code cache. The lazily imported modules share one instance of everything they import
// (output.ts's CliError included); the front only hands them its Io and Output.
import { build } from 'esbuild';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const starters = join(repo, 'starters');
const out = join(repo, 'dist', 'cli');
/** The modules starters/cli.ts imports with import(): each becomes `cutover-commands:<path>`. */
const lazy = new Set();
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', external: ['@slack/bolt', '@slack/web-api'] };

await build({
  ...common,
  entryPoints: [join(starters, 'bin.ts')],
  outfile: join(out, 'front.cjs'),
  plugins: [
    {
      name: 'lazy-commands',
      setup(b) {
        // import('./commands') in cli.ts becomes a small module that require()s it from the
        // launcher (`cutover-commands:commands`), so esbuild keeps it lazy and in CommonJS.
        b.onResolve({ filter: /^\./ }, (args) => {
          if (args.kind !== 'dynamic-import' || args.importer !== join(starters, 'cli.ts')) return undefined;
          const path = relative(starters, join(dirname(args.importer), args.path));
          lazy.add(path);
          return { path, namespace: 'lazy-command' };
        });
        b.onLoad({ filter: /.*/, namespace: 'lazy-command' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(`cutover-commands:${args.path}`)});`, loader: 'js' }));
        b.onResolve({ filter: /^cutover-commands:/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});

// Getters, so that a module initialises only when asked for (slack-gateway loads the Slack SDK).
const getters = (paths) => paths.map((p) => `Object.defineProperty(exports, ${JSON.stringify(p)}, { enumerable: true, get: () => require(${JSON.stringify(`./${p}`)}) });`).join('\n');
await build({ ...common, stdin: { contents: getters([...lazy]), resolveDir: starters, sourcefile: 'lazy-commands.js', loader: 'js' }, outfile: join(out, 'commands.cjs') });
// `cutover validate` loads only these (the config, and the error classifier when it fails): a
// bundle of their own, a tenth the size of commands.cjs, without the Temporal client. The
// launcher loads it instead of commands.cjs for that command, so one instance of each module
// (ConfigError, CliError) serves the whole run.
const forValidate = ['config-file', 'classify', '../config/temporal', 'format'];
for (const p of forValidate) if (!lazy.has(p)) throw new Error(`bundle-cli: cli.ts no longer imports ${p} lazily; update forValidate`);
await build({ ...common, stdin: { contents: getters(forValidate), resolveDir: starters, sourcefile: 'lazy-validate.js', loader: 'js' }, outfile: join(out, 'validate.cjs') });
console.log(`cutover: CLI bundled (lazy: ${[...lazy].sort().join(', ')})`);
