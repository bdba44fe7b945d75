#!/usr/bin/env bash
# Quick start, part one: install what is missing, then run the sandbox demo (sandbox/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx sandbox/demo.ts "$@"
