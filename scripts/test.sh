#!/usr/bin/env bash
# Quick start, part two: install what is missing, then run every test with node's test
# runner. Each test file starts the real servers it needs (Temporal, sshd, nginx) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
files=(test/unit/*.test.ts test/workflows/*.test.ts test/integration/*.test.ts)
shopt -s nullglob
files+=(test/faults/*.test.ts)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
