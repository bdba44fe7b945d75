#!/usr/bin/env bash
# Compiles the worker to dist/ (tsc, tsconfig.build.json) and bundles the CLI into
# dist/cli/ (esbuild: one chunk per command, loaded only when that command runs, so starting
# reads a few files instead of hundreds), when dist/ is missing or any source is newer than
# the last build: after a fresh clone, a pull or an edit. Otherwise it only checks (a few
# ms), so bin/cutover can call it on every start.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stamp="$repo/dist/.built"
if [ -f "$stamp" ] && [ -z "$(find "$repo/contract" "$repo/config" "$repo/starters" "$repo/workers" "$repo/workflows" "$repo/activities" "$repo/tsconfig.json" "$repo/tsconfig.build.json" "$repo/package-lock.json" -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
mkdir -p "$repo/dist"
exec 9>"$repo/dist/.lock"
flock 9 # two CLIs started at once build once
if [ -f "$stamp" ] && [ -z "$(find "$repo/contract" "$repo/config" "$repo/starters" "$repo/workers" "$repo/workflows" "$repo/activities" -newer "$stamp" -print -quit)" ]; then
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
# ESM so that chunks load lazily; the banner gives bundled CommonJS code its `require`.
node_modules/.bin/esbuild starters/bin.ts --bundle --platform=node --target=node20 --format=esm --splitting \
  --outdir=dist/cli --out-extension:.js=.mjs --log-level=warning \
  --banner:js="import { createRequire as __cutoverRequire } from 'module'; const require = __cutoverRequire(import.meta.url);"
touch "$stamp"
