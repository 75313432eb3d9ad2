#!/usr/bin/env bash
# Clean-room install test (a stage of .ci/run): packs the package with its
# prebuilt binary (run `npm run prebuild` first), installs the tarball into a
# fresh temporary folder with install scripts off and a PATH that holds only
# node, npm and npx, so nothing can be compiled, and uses it there as a user
# would: `info --json`, a short `train` on the embedded corpus, the ESM and
# CommonJS consumers of test/consumers/ (2 training steps each), and the
# TypeScript consumers under nodenext and commonjs. Prints the tarball and
# prebuild sizes; fails over the 25 MB budget.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
budget=$((25 * 1000 * 1000))

shopt -s nullglob
prebuilds=(prebuilds/linux-x64/*.node)
shopt -u nullglob
[ "${#prebuilds[@]}" -eq 1 ] || { echo "clean-room: expected one prebuilds/linux-x64/*.node (run npm run prebuild), found ${#prebuilds[@]}"; exit 1; }
prebuild=${prebuilds[0]}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/electra-clean-room.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The tarball (dist/ is already built: --ignore-scripts skips prepare's tsc).
tgz="$tmp/$(npm pack --ignore-scripts --silent --pack-destination "$tmp" | tail -n 1)"
echo "tarball: $(basename "$tgz") $(stat -c %s "$tgz") bytes ($(du -h "$tgz" | cut -f1))"
echo "prebuild: $prebuild $(stat -c %s "$prebuild") bytes ($(du -h "$prebuild" | cut -f1))"
node scripts/cuda-targets.js "$prebuild"
readelf -d "$prebuild" > "$tmp/dynamic.txt"
echo "prebuild needs: $(grep NEEDED "$tmp/dynamic.txt" | grep -o '\[.*\]' | tr -d '[]' | tr '\n' ' ')"
if grep -q 'NEEDED.*libcudart' "$tmp/dynamic.txt"; then echo "clean-room: $prebuild needs a shared libcudart"; exit 1; fi
tar tzf "$tgz" > "$tmp/contents.txt"  # (not piped into grep -q: pipefail would see tar's SIGPIPE)
grep -qx "package/$prebuild" "$tmp/contents.txt" || { echo "clean-room: the tarball lacks $prebuild"; exit 1; }
echo "tarball contents: $(wc -l < "$tmp/contents.txt") files; by folder: $(cut -d/ -f2 "$tmp/contents.txt" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}')"
[ "$(stat -c %s "$tgz")" -le "$budget" ] || { echo "clean-room: the tarball is over the 25 MB budget"; exit 1; }

# A PATH with node, npm, npx and sh (npx runs bins through sh) only.
mkdir -p "$tmp/bin" "$tmp/app" "$tmp/tmp"
for t in node npm npx sh; do ln -s "$(command -v "$t")" "$tmp/bin/$t"; done
for t in cc c++ gcc g++ clang clang++ make cmake nvcc; do
  if PATH="$tmp/bin" command -v "$t" >/dev/null 2>&1; then echo "clean-room: $t is on the clean PATH"; exit 1; fi
done
clean() { env PATH="$tmp/bin" TMPDIR="$tmp/tmp" "$@"; }

cd "$tmp/app"
echo '{ "name": "clean-room-app", "version": "1.0.0", "private": true }' > package.json
clean npm install --ignore-scripts --no-audit --no-fund --prefer-offline "$tgz"
pkg="$tmp/app/node_modules/electra-native"
[ ! -e "$pkg/build" ] || { echo "clean-room: a build/ folder appeared in the installed package"; exit 1; }

# The install script, run by hand with nothing to compile with: it must take the prebuild.
clean node "$pkg/scripts/install.js" 2> install.log || { cat install.log; exit 1; }
cat install.log
grep -q "using prebuilds/linux-x64/" install.log || { echo "clean-room: the install step did not pick the prebuild"; exit 1; }

clean npx --no-install electra-native info --json > info.json
clean node -e '
  const i = JSON.parse(require("fs").readFileSync("info.json", "utf8"));
  const gpu = require("fs").existsSync("/dev/nvidiactl");
  const bad = [];
  if (!i.binary.prebuilt) bad.push(`binary ${i.binary.path} is not the prebuild`);
  if (!i.cudaCompiled) bad.push("CUDA not compiled in");
  if (!gpu && i.cuda.deviceCount !== 0) bad.push(`no GPU expected, info reports ${i.cuda.deviceCount}`);
  console.log(`info: ${i.binary.path}, CUDA compiled ${i.cudaCompiled} (${i.build.cudaArchitectures}), devices ${i.cuda.deviceCount}` +
    ` (${i.cuda.reason || "gpu"}), simd ${i.simdLevel}, backend ${i.backend}`);
  if (bad.length) { console.error("clean-room: " + bad.join("; ")); process.exit(1); }'

clean npx --no-install electra-native train --preset tiny --steps 3 --batch 4 --seq 64 --eval-batches 0 \
  --device auto --out "$tmp/run" 2> train.log || { cat train.log; exit 1; }
tail -n 3 train.log
grep -q "done at step 3" train.log || { echo "clean-room: train did not finish 3 steps"; cat train.log; exit 1; }

cp -r "$repo/test/consumers/." .
clean node train.mjs
clean node train.cjs
for kind in nodenext commonjs; do
  (cd ts && clean node "$repo/node_modules/typescript/bin/tsc" -p "tsconfig.$kind.json" --typeRoots "$repo/node_modules/@types")
  echo "tsc --noEmit ($kind): ok"
done
