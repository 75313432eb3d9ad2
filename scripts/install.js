#!/usr/bin/env node
'use strict';
// npm's install step: decides which addon binary this machine gets, and says so.
//
// 1. The binary node-gyp-build finds (build/Release/ in a clone that was built,
//    else the prebuilt prebuilds/linux-x64/ one that the published package
//    ships, which has CUDA compiled in) is loaded and asked for info(). If it
//    loads, it is used, unless it has no CUDA while this machine has nvcc, an
//    NVIDIA GPU, cmake and cmake-js (a clone on a GPU machine): then step 2's
//    CUDA build replaces it.
// 2. Otherwise it builds from source: with CUDA through cmake-js, for the local
//    GPU's architecture only (a few minutes instead of the release set), when
//    all of that is present; else the CPU-only addon from binding.gyp with
//    node-gyp (npm ships node-gyp; a C++17 compiler, Python and make are needed).
//
// `npm rebuild electra-native --build-from-source` (npm_config_build_from_source)
// skips step 1. Output goes to stderr, one "electra-native:" line per decision.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const say = (msg) => process.stderr.write(`electra-native: ${msg}\n`);

// The binary node-gyp-build picks, loaded: { file, info } or { file?, error }.
function loadExisting() {
  let file;
  try {
    file = require('node-gyp-build').path(root);
  } catch (err) {
    return { error: err }; // nothing built or prebuilt for this platform
  }
  try {
    return { file, info: require(file).info() };
  } catch (err) {
    return { file, error: err };
  }
}

function onPath(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return undefined;
}

// The local GPUs' architectures ("90", "86,89"), or undefined without nvidia-smi or GPU.
function localGpuArchs() {
  const smi = onPath('nvidia-smi');
  if (!smi) return undefined;
  const r = spawnSync(smi, ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) return undefined;
  const archs = [...new Set(r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+$/.test(l)).map((l) => l.replace('.', '')))];
  return archs.length > 0 ? archs.join(',') : undefined;
}

// What a CUDA source build needs: { archs, cmakeJs } or { missing: 'why not' }.
function cudaBuildPlan() {
  const missing = [];
  if (!onPath('nvcc') && !process.env.CUDACXX) missing.push('nvcc');
  if (!onPath('cmake')) missing.push('cmake');
  let cmakeJs;
  try {
    cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json', { paths: [root] })), 'bin', 'cmake-js');
  } catch {
    missing.push('cmake-js (a development dependency: present in a clone after `npm ci`)');
  }
  if (!fs.existsSync(path.join(root, 'CMakeLists.txt')) || !fs.existsSync(path.join(root, 'native', 'cuda'))) {
    missing.push('the CUDA sources (present in a clone, not in the published package)');
  }
  const archs = localGpuArchs();
  if (!archs) missing.push('an NVIDIA GPU (nvidia-smi)');
  return missing.length > 0 ? { missing: missing.join(', ') } : { archs, cmakeJs };
}

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status === 0;
}

function cudaBuild(plan) {
  say(`building with CUDA for this machine's GPU (sm_${plan.archs.split(',').join(', sm_')}) with cmake-js ...`);
  const ok =
    run(process.execPath, [plan.cmakeJs, 'configure', '--CDELECTRA_CUDA=ON', `--CDELECTRA_CUDA_ARCHS=${plan.archs}`]) &&
    run(process.execPath, [plan.cmakeJs, 'build', '--target', 'electra_native']);
  if (ok) say('built build/Release/electra_native.node with CUDA (`npx electra-native info` shows it)');
  return ok;
}

function gypBuild(why) {
  say(`building the CPU-only addon from source with node-gyp (${why}); it needs a C++17 compiler, Python and make ...`);
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    // npm's own copy: the npm that runs this script puts it on PATH as node-gyp.
  }
  const args = ['rebuild', '--jobs', 'max']; // one compile per core (node-gyp's default is one in all)
  const ok = gyp ? run(process.execPath, [gyp, ...args]) : run('node-gyp', args);
  if (!ok) {
    say('the source build failed. Install a C++17 compiler, Python 3 and make, then run ' +
        '`npm rebuild electra-native --build-from-source`; or use linux-x64, where the package has a prebuilt binary.');
  }
  return ok;
}

function main() {
  const fromSource = process.env.npm_config_build_from_source === 'true';
  if (!fromSource) {
    const got = loadExisting();
    const rel = got.file ? path.relative(root, got.file) : undefined;
    if (got.info) {
      const kind = got.info.cudaCompiled ? `CUDA compiled in (${got.info.build.cudaArchitectures || 'targets unknown'})` : 'CPU only';
      const plan = got.info.cudaCompiled ? undefined : cudaBuildPlan();
      if (!plan || plan.missing) {
        say(`using ${rel}: ${kind}`);
        return true;
      }
      say(`${rel} has no CUDA, and this machine has nvcc and an NVIDIA GPU`);
      return cudaBuild(plan) || gypBuild('the CUDA build failed');
    }
    if (got.file) {
      say(`the binary ${rel} did not load: ${got.error && got.error.message}`);
      say('falling back to building from source');
    } else {
      say(`no prebuilt binary for ${process.platform}-${process.arch}; building from source`);
    }
  }
  const plan = cudaBuildPlan();
  if (!plan.missing) return cudaBuild(plan) || gypBuild('the CUDA build failed');
  return gypBuild(`no CUDA build: missing ${plan.missing}`);
}

process.exitCode = main() ? 0 : 1;
