// The driver check: a driver older than the CUDA runtime compiled in makes the
// GPUs unusable, and `info` and `train --device auto` name the driver found and
// the one needed, then fall back to the CPU with one line. There is no GPU (or
// old driver) on the test machines, so the CLI tests fake the driver with
// ELECTRA_FAKE_DRIVER; checkDriver itself is tested on constructed info().
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CUDA_DRIVER_MINIMUM, checkDriver, driverNeeded, getInfo, parseNvidiaDriverVersion, type NativeInfo } from '../lib';
import { runCli } from './run-cli';

function nativeInfo(driverVersion: number, runtimeVersion = 13000, deviceCount = 1): NativeInfo {
  const devices = Array.from({ length: deviceCount }, () => ({ name: 'GPU', memory: 8e10, cc: '9.0', multiprocessors: 132 }));
  return {
    version: '0.0.0',
    cudaCompiled: true,
    cuda: { deviceCount, driverVersion, runtimeVersion, devices },
    threads: 2,
    simdLevel: 'avx2',
    simdLevelMax: 'avx2',
    build: { system: 'cmake-js', type: 'Release', compiler: 'gcc' },
  };
}

describe('checkDriver', () => {
  test('a driver for an older CUDA major version: no devices, and a reason naming both versions', () => {
    const r = checkDriver(nativeInfo(12040), '550.54.15');
    expect(r.cuda.deviceCount).toBe(0);
    expect(r.cuda.devices).toEqual([]);
    expect(r.driver).toEqual({ found: '550.54.15', foundCuda: '12.4', needed: 'R580 (580.65.06 or newer)', ok: false });
    expect(r.cuda.reason).toBe(
      "NVIDIA driver 550.54.15 (CUDA 12.4) is too old: this binary's CUDA 13.0 runtime needs driver R580 (580.65.06 or newer); update the driver to use the GPU",
    );
  });

  test('a driver of the same major version (any minor: minor-version compatibility) or newer keeps the devices', () => {
    for (const v of [13000, 13020, 14000]) {
      const r = checkDriver(nativeInfo(v, 13010), '580.65.06');
      expect(r.cuda.deviceCount).toBe(1);
      expect(r.cuda.reason).toBeUndefined();
      expect(r.driver?.ok).toBe(true);
    }
  });

  test('no CUDA driver API version but an old kernel module is too old; neither known is not reported as too old', () => {
    expect(checkDriver(nativeInfo(0, 13000, 0), '535.104.05').driver?.ok).toBe(false);
    const none = checkDriver({ ...nativeInfo(0, 13000, 0), cuda: { ...nativeInfo(0, 13000, 0).cuda, reason: 'no CUDA driver' } }, undefined);
    expect(none.driver).toEqual({ foundCuda: 'none', needed: 'R580 (580.65.06 or newer)', ok: true });
    expect(none.cuda.reason).toBe('no CUDA driver');
  });

  test('a binary without CUDA has no driver check', () => {
    const cpu = { ...nativeInfo(12040), cudaCompiled: false };
    expect(checkDriver(cpu, '550.54.15')).toBe(cpu);
  });

  test('the needed driver follows the runtime major version', () => {
    expect(driverNeeded(12080)).toBe(`${CUDA_DRIVER_MINIMUM[12].branch} (${CUDA_DRIVER_MINIMUM[12].version} or newer)`);
    expect(driverNeeded(99000)).toBe('one that supports CUDA 99.0');
  });

  test('parses /proc/driver/nvidia/version (proprietary and open kernel modules)', () => {
    expect(parseNvidiaDriverVersion('NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version: gcc 12')).toBe('550.54.15');
    expect(parseNvidiaDriverVersion('NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16)')).toBe('580.65.06');
    expect(parseNvidiaDriverVersion('garbage')).toBeUndefined();
  });
});

describe('an old driver, faked (ELECTRA_FAKE_DRIVER)', () => {
  const cudaCompiled = getInfo().cudaCompiled;
  const OLD = { ELECTRA_FAKE_DRIVER: '550.54.15:12.4' };
  const maybe = cudaCompiled ? test : test.skip;
  if (!cudaCompiled) console.warn('driver tests: the CLI checks are skipped: this binary has no CUDA, so there is no driver to check');

  maybe('info names the driver found and the one needed', () => {
    const json = runCli(['info', '--json'], OLD);
    expect(json.status).toBe(0);
    const info = JSON.parse(json.stdout);
    expect(info.backend).toBe('cpu');
    expect(info.cuda.deviceCount).toBe(0);
    expect(info.driver).toMatchObject({ found: '550.54.15', foundCuda: '12.4', ok: false });
    expect(info.cuda.reason).toMatch(/NVIDIA driver 550\.54\.15 \(CUDA 12\.4\) is too old: .*needs driver R580 \(580\.65\.06 or newer\)/);
    const text = runCli(['info'], OLD);
    expect(text.stdout).toMatch(/cuda driver +12\.4 \(NVIDIA driver 550\.54\.15\): TOO OLD/);
    expect(text.stdout).toMatch(/driver needed +R580 \(580\.65\.06 or newer\)/);
    expect(text.stdout).toMatch(/no gpu because +NVIDIA driver 550\.54\.15/);
  });

  maybe('train --device auto falls back to the CPU with one notice naming both versions', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-driver-'));
    try {
      const r = runCli(['train', '--corpus', 'toy', '--steps', '1', '--batch', '2', '--seq', '32', '--eval-batches', '0', '--device', 'auto', '--out', out], OLD);
      expect(r.status).toBe(0);
      const notices = r.stderr.split('\n').filter((l) => l.includes("device 'auto'"));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/^electra-native: device 'auto': no usable GPU, using the CPU: NVIDIA driver 550\.54\.15 \(CUDA 12\.4\) is too old: .*R580 \(580\.65\.06 or newer\).*\(CUDA driver 12\.4, runtime 13\.\d\)$/);
      expect(r.stderr).toMatch(/1 steps of 2x32 on the cpu;/);
      const cuda = runCli(['train', '--corpus', 'toy', '--steps', '1', '--batch', '2', '--seq', '32', '--eval-batches', '0', '--device', 'cuda', '--out', path.join(out, 'x')], OLD);
      expect(cuda.status).not.toBe(0);
      expect(cuda.stderr).toMatch(/ERR_NO_DEVICE: device 'cuda' requested, but NVIDIA driver 550\.54\.15 \(CUDA 12\.4\) is too old/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('a malformed ELECTRA_FAKE_DRIVER is an error naming the expected form', () => {
    const r = runCli(['info'], { ELECTRA_FAKE_DRIVER: '550' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_INVALID_ARGUMENT: ELECTRA_FAKE_DRIVER must be "<driver version>:<CUDA major\.minor>"/);
  });
});
