import * as fs from 'node:fs';

import { getInfo, loadNative } from '../lib';

const hasGpuDevice = fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/nvidiactl');

describe('native addon', () => {
  test('loads through node-gyp-build and exposes its API', () => {
    const native = loadNative();
    expect(typeof native.info).toBe('function');
    expect(typeof native.version).toBe('string');
    for (const op of ['linearForward', 'layerNormForward', 'geluForward', 'crossEntropy', 'setThreads', 'getThreads']) {
      expect(typeof (native.debug as unknown as Record<string, unknown>)[op]).toBe('function');
    }
    expect(loadNative()).toBe(native);
  });

  test('info() has the documented shape', () => {
    const info = getInfo();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof info.cudaCompiled).toBe('boolean');
    // Build flags: which build system, type and compiler made this binary, and its CUDA targets.
    expect(['cmake-js', 'node-gyp']).toContain(info.build.system);
    expect(info.build.compiler).toMatch(/^(gcc|clang) /);
    if (info.cudaCompiled && info.build.system === 'cmake-js') expect(info.build.cudaArchitectures).toMatch(/\d/);
    expect(Number.isInteger(info.threads) && info.threads >= 1).toBe(true);
    if (info.simd !== undefined) expect(typeof info.simd).toBe('string');
    expect(['cpu', 'cuda']).toContain(info.backend);
    const c = info.cuda;
    expect(Number.isInteger(c.deviceCount) && c.deviceCount >= 0).toBe(true);
    expect(Number.isInteger(c.driverVersion)).toBe(true);
    expect(Number.isInteger(c.runtimeVersion)).toBe(true);
    expect(Array.isArray(c.devices)).toBe(true);
    expect(c.devices).toHaveLength(c.deviceCount);
    for (const d of c.devices) {
      expect(typeof d.name).toBe('string');
      expect(d.memory).toBeGreaterThan(0);
      expect(d.cc).toMatch(/^\d+\.\d+$/);
    }
    if (info.cudaCompiled) expect(c.runtimeVersion).toBeGreaterThan(0);
    else expect(c.runtimeVersion).toBe(0);
  });

  (hasGpuDevice ? test.skip : test)('reports "no GPU" cleanly on a machine without one', () => {
    const info = getInfo();
    expect(info.cuda.deviceCount).toBe(0);
    expect(info.cuda.devices).toEqual([]);
    expect(typeof info.cuda.reason).toBe('string');
    expect(info.cuda.reason!.length).toBeGreaterThan(0);
    expect(info.backend).toBe('cpu');
  });

  test('setThreads / getThreads', () => {
    const { debug } = loadNative();
    const before = debug.getThreads();
    expect(debug.setThreads(1)).toBe(1);
    expect(getInfo().threads).toBe(1);
    expect(debug.setThreads(before)).toBe(before);
  });
});
