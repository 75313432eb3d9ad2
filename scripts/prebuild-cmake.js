#!/usr/bin/env node
'use strict';
// Stands in for node-gyp under prebuildify (`npm run prebuild`): prebuildify
// runs `<node-gyp> rebuild --target=... --arch=... --release` and then strips
// and moves build/Release/*.node into prebuilds/<platform>-<arch>/. The binary
// we ship is the cmake-js build instead of binding.gyp's CPU-only one: CUDA
// compiled in for the release targets (CMakeLists.txt, ELECTRA_CUDA_ARCHS
// "release"), the CUDA runtime linked statically, the CPU kernels picked at
// run time. An up-to-date build/ (CI builds it once for the tests) is reused
// as it is: configuring with the same options rebuilds nothing.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { cudaTargets, expectedTargets } = require('./cuda-targets');

const root = path.resolve(__dirname, '..');
const fail = (msg) => {
  process.stderr.write(`prebuild: ${msg}\n`);
  process.exit(1);
};

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') fail(`expected prebuildify's \`rebuild ...\`, got: ${args.join(' ')}`);
const arch = (args.find((a) => a.startsWith('--arch=')) || '').slice('--arch='.length) || process.arch;
if (arch !== process.arch) fail(`cannot cross-build for ${arch} on ${process.arch}`);
if (args.includes('--debug')) fail('the prebuilt binary is a Release build');

const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json', { paths: [root] })), 'bin', 'cmake-js');
for (const step of [
  ['configure', '--CDELECTRA_CUDA=ON', '--CDELECTRA_CUDA_ARCHS=release'],
  ['build', '--target', 'electra_native'],
]) {
  const r = spawnSync(process.execPath, [cmakeJs, ...step], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`cmake-js ${step[0]} failed (exit ${r.status})`);
}

// What we are about to ship: CUDA compiled in, and no shared CUDA runtime.
const file = path.join(root, 'build', 'Release', 'electra_native.node');
const info = require(file).info();
if (!info.cudaCompiled) fail(`${file} has no CUDA`);
const readelf = spawnSync('readelf', ['-d', file], { encoding: 'utf8' });
if (readelf.status === 0 && /NEEDED.*libcudart/.test(readelf.stdout)) fail(`${file} needs a shared libcudart; the CUDA runtime must be static`);
// The GPU code actually in it (fatbin headers) against what the build says it compiled.
const got = cudaTargets(fs.readFileSync(file));
const want = expectedTargets(info.build.cudaArchitectures || '');
if (JSON.stringify([got.sass, got.ptx]) !== JSON.stringify([want.sass, want.ptx])) {
  fail(`${file} has SASS ${got.sass} and PTX ${got.ptx}; the build says ${info.build.cudaArchitectures}`);
}
process.stderr.write(
  `prebuild: ${path.relative(root, file)} (${fs.statSync(file).size} bytes before strip), CUDA ${info.cuda.runtimeVersion}, ` +
    `SASS ${got.sass.map((a) => `sm_${a}`).join(' ')}, PTX ${got.ptx.map((a) => `sm_${a}`).join(' ')} (${got.fatbins} fat binaries)\n`,
);
