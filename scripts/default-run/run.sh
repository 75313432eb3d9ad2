#!/usr/bin/env bash
# The README's main job, as a user runs it (train, no arguments), timed, then
# checked against its targets (scripts/default-run/check.js). CI runs this
# after the tests; `npm run check:default-run` runs it anywhere (about 8
# minutes on 2 cores). Needs the addon and dist/ built (npm ci does both).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d "${TMPDIR:-/tmp}/electra-default-run.XXXXXX")
trap 'rm -rf "$out"' EXIT
t0=$(date +%s.%N)
# The run's own log is long; its last lines (the summary) are shown.
node bin/electra-native.js train --out "$out/run" > "$out/log.txt" 2>&1 || { cat "$out/log.txt"; exit 1; }
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
grep -E "^electra-native: (recipe|training)|^  training:|eval @" "$out/log.txt" | cut -c1-220
sed -n '/what the run learned/,/^electra-native: run directory/p' "$out/log.txt"
node scripts/default-run/check.js "$out/run" --seconds "$secs"
