// scripts/install.js (npm's install step) in a copy of the package's install
// layout, with a PATH that holds only node (no compiler, nvcc, cmake or GPU
// tools): a prebuilt binary that loads is used and named; one that does not
// load is reported with the reason, and the source build it falls back to
// fails with a message that says what to install. With stand-ins for nvcc,
// nvidia-smi (an sm_90 GPU) and cmake, it asks cmake for a CUDA build of the
// local architecture only.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { getInfo } from '../lib';
import { root } from './run-cli';

const PREBUILD = path.join('prebuilds', `${process.platform}-${process.arch}`, 'electra-native.node');

/** A package folder like an installed electra-native, with `prebuild` as its prebuilt binary. */
function fakePackage(dir: string, prebuild: Buffer): void {
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(path.join(root, 'scripts', 'install.js'), path.join(dir, 'scripts', 'install.js'));
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  fs.mkdirSync(path.dirname(path.join(dir, PREBUILD)), { recursive: true });
  fs.writeFileSync(path.join(dir, PREBUILD), prebuild);
}

function runInstall(dir: string, tools: Record<string, string> = {}) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const [name, script] of Object.entries(tools)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { HOME: dir, PATH: bin, TMPDIR: dir };
  return spawnSync(process.execPath, [path.join(dir, 'scripts', 'install.js')], { cwd: dir, env, encoding: 'utf8', timeout: 120000 });
}

describe('scripts/install.js', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-install-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a prebuilt binary that loads is used, and named with what it has', () => {
    const info = getInfo();
    fakePackage(dir, fs.readFileSync(path.join(root, info.binary.path)));
    const r = runInstall(dir);
    expect(r.status).toBe(0);
    const kind = info.cudaCompiled ? `CUDA compiled in (${info.build.cudaArchitectures})` : 'CPU only';
    expect(r.stderr).toBe(`electra-native: using ${PREBUILD}: ${kind}\n`);
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
  });

  test('no prebuild, but nvcc, cmake and an sm_90 GPU (faked): a cmake-js CUDA build for sm_90 only, then node-gyp when it fails', () => {
    fakePackage(dir, Buffer.from(''));
    fs.rmSync(path.join(dir, 'prebuilds'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'CMakeLists.txt'), '');
    fs.mkdirSync(path.join(dir, 'native', 'cuda'), { recursive: true });
    const log = path.join(dir, 'cmake-args.txt');
    const r = runInstall(dir, {
      nvcc: 'exit 0',
      // cmake-js looks for a C++ toolset before it runs cmake; these compile nothing.
      gcc: 'exit 1',
      'g++': 'exit 1',
      'nvidia-smi': '[ "$1" = --query-gpu=compute_cap ] && echo 9.0',
      // Answers cmake-js's probes; the configure itself is logged and fails.
      cmake: [
        'case "$1 $2" in',
        '  "-E capabilities") echo \'{"generators":[{"name":"Unix Makefiles"}]}\' ;;',
        '  "--version "|"--help ") echo "cmake version 3.25.1" ;;',
        `  *) echo "$@" >> '${log}'; exit 1 ;;`,
        'esac',
      ].join('\n'),
    });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('electra-native: '));
    expect(lines[0]).toBe(`electra-native: no prebuilt binary for ${process.platform}-${process.arch}; building from source`);
    expect(lines[1]).toBe("electra-native: building with CUDA for this machine's GPU (sm_90) with cmake-js ...");
    expect(fs.readFileSync(log, 'utf8')).toMatch(/-DELECTRA_CUDA=ON.*-DELECTRA_CUDA_ARCHS=90|-DELECTRA_CUDA_ARCHS=90.*-DELECTRA_CUDA=ON/);
    expect(lines[2]).toMatch(/^electra-native: building the CPU-only addon from source with node-gyp \(the CUDA build failed\)/);
  });

  test('a prebuilt binary that does not load: the reason, then a source build that says what it needs', () => {
    fakePackage(dir, Buffer.from('not an ELF file'));
    const r = runInstall(dir);
    expect(r.status).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('electra-native: '));
    expect(lines[0]).toMatch(new RegExp(`^electra-native: the binary ${PREBUILD.replace(/\./g, '\\.')} did not load: .*(invalid ELF header|too short)`));
    expect(lines[1]).toBe('electra-native: falling back to building from source');
    expect(lines[2]).toMatch(/^electra-native: building the CPU-only addon from source with node-gyp \(no CUDA build: missing nvcc, cmake, .*an NVIDIA GPU \(nvidia-smi\)\); it needs a C\+\+17 compiler, Python and make/);
    expect(lines[3]).toMatch(/^electra-native: the source build failed\. Install a C\+\+17 compiler, Python 3 and make, then run `npm rebuild electra-native --build-from-source`/);
  });
});
