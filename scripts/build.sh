#!/usr/bin/env bash
# Compiles the worker to dist/ (tsc, tsconfig.build.json) and bundles the CLI into dist/cli/
# (esbuild: the command table, and the commands' bodies loaded only when one runs) with V8 code
# caches beside it (scripts/bundle-cli.mjs, scripts/cli-launcher.mjs), when dist/ is missing or any source is newer than
# the last build: after a fresh clone, a pull or an edit. Otherwise it only checks (a few
# ms), so bin/cutover can call it on every start.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stamp="$repo/dist/.built"
if [ -f "$stamp" ] && [ -z "$(find "$repo/contract" "$repo/config" "$repo/starters" "$repo/workers" "$repo/workflows" "$repo/activities" "$repo/scripts/cli-launcher.mjs" "$repo/scripts/bundle-cli.mjs" "$repo/tsconfig.json" "$repo/tsconfig.build.json" "$repo/package-lock.json" -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
mkdir -p "$repo/dist"
exec 9>"$repo/dist/.lock"
flock 9 # two CLIs started at once build once
if [ -f "$stamp" ] && [ -z "$(find "$repo/contract" "$repo/config" "$repo/starters" "$repo/workers" "$repo/workflows" "$repo/activities" "$repo/scripts/cli-launcher.mjs" "$repo/scripts/bundle-cli.mjs" -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
echo "cutover: compiling the CLI and the worker to dist/" >&2
cd "$repo"
node_modules/.bin/tsc -p tsconfig.build.json
# The workflow bundle the compiled worker loads (dist/workflow-bundle.js), instead of running
# webpack at every worker start.
if ! out="$(node dist/workers/bundle.js dist/workflow-bundle.js.tmp 2>&1)"; then printf '%s\n' "$out" >&2; exit 1; fi
mv -f dist/workflow-bundle.js.tmp dist/workflow-bundle.js
rm -rf dist/cli
# CommonJS bundles (the command table; the commands' bodies, loaded only when a command runs;
# validate's own few), started through
# V8's code cache by the launcher (scripts/bundle-cli.mjs, scripts/cli-launcher.mjs). The Slack
# SDK stays in node_modules: only slack-gateway loads it.
node scripts/bundle-cli.mjs >/dev/null
cp scripts/cli-launcher.mjs dist/cli/bin.mjs
chmod +x dist/cli/bin.mjs
# Fill the code caches: --help (the front alone), then `status` against a closed port, which loads
# the config, the client and its protobuf definitions, then fails at once (exit 3).
node dist/cli/bin.mjs --help >/dev/null
rc=0
warm="$(env -u CUTOVER_CONFIG -u TEMPORAL_ADDRESS -u TEMPORAL_PROFILE node dist/cli/bin.mjs status cutover warm-up --address 127.0.0.1:1 2>&1)" || rc=$?
if [ "$rc" != 3 ]; then printf 'cutover: the bundled CLI did not start as expected (exit %s):\n%s\n' "$rc" "$warm" >&2; exit 1; fi
# and validate's own bundle (the example config).
rc=0
warm="$(env -u CUTOVER_CONFIG node dist/cli/bin.mjs -c cutover.example.yml validate 2>&1)" || rc=$?
if [ "$rc" != 0 ]; then printf 'cutover: the bundled CLI did not validate the example config (exit %s):\n%s\n' "$rc" "$warm" >&2; exit 1; fi
touch "$stamp"
