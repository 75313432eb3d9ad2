/**
 * The NVIDIA driver a CUDA binary needs, said plainly. The CUDA runtime is
 * linked into the addon statically, so the driver must support that runtime's
 * major version: CUDA 13 needs an R580 driver or newer. With an older one the
 * runtime only says "cudaErrorInsufficientDriver"; machineInfo() turns that
 * into the driver version found (the kernel module's, e.g. 550.54.15, and the
 * CUDA version it supports) and the one needed, as info().cuda.reason, which
 * `info` prints and a `device: 'auto'` fallback names in its notice.
 */
import * as fs from 'node:fs';

import { ElectraError, wrapNative } from './errors';
import { loadNative, type NativeInfo } from './native';

/** The oldest Linux driver that supports a CUDA major version (NVIDIA's CUDA release notes, table 3). */
export const CUDA_DRIVER_MINIMUM: Readonly<Record<number, { branch: string; version: string }>> = {
  12: { branch: 'R525', version: '525.60.13' },
  13: { branch: 'R580', version: '580.65.06' },
};

/** What info() says about the driver; present when the binary has CUDA. */
export interface DriverCheck {
  /** The NVIDIA kernel driver's version (e.g. "550.54.15"); absent when none was found. */
  found?: string;
  /** The CUDA version that driver supports (e.g. "12.4"); "none" without a driver. */
  foundCuda: string;
  /** What this binary's CUDA runtime needs, e.g. "R580 (580.65.06 or newer)". */
  needed: string;
  /** false when a driver was found and is older than `needed`. */
  ok: boolean;
}

/** info() plus the driver check. */
export interface MachineInfo extends NativeInfo {
  driver?: DriverCheck;
}

/** A CUDA version int as "major.minor" (12040 -> "12.4"); 0 -> "none". */
export function formatCudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none';
}

/** The driver version in /proc/driver/nvidia/version's text ("... Kernel Module  550.54.15  ..."), if any. */
export function parseNvidiaDriverVersion(text: string): string | undefined {
  return /Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

function readNvidiaDriverVersion(): string | undefined {
  try {
    return parseNvidiaDriverVersion(fs.readFileSync('/proc/driver/nvidia/version', 'utf8'));
  } catch {
    return undefined; // no NVIDIA kernel module (or not Linux)
  }
}

/** The driver a CUDA runtime version needs, in words: "R580 (580.65.06 or newer)". */
export function driverNeeded(runtimeVersion: number): string {
  const min = CUDA_DRIVER_MINIMUM[Math.floor(runtimeVersion / 1000)];
  return min ? `${min.branch} (${min.version} or newer)` : `one that supports CUDA ${formatCudaVersion(runtimeVersion)}`;
}

/**
 * Adds the driver check to a native info() result. A driver that supports an
 * older CUDA major version than the runtime's (the CUDA driver API version,
 * or failing that the kernel module's branch) makes the GPUs unusable: the
 * result then has no devices and a reason naming both versions.
 */
export function checkDriver(info: NativeInfo, nvidiaVersion: string | undefined): MachineInfo {
  const runtime = info.cuda.runtimeVersion;
  if (!info.cudaCompiled || runtime <= 0) return info;
  const driverCuda = info.cuda.driverVersion;
  const needCuda = Math.floor(runtime / 1000) * 1000; // any driver of the same major version (minor-version compatibility)
  const min = CUDA_DRIVER_MINIMUM[needCuda / 1000];
  const branchTooOld = min !== undefined && nvidiaVersion !== undefined && Number(nvidiaVersion.split('.')[0]) < Number(min.branch.slice(1));
  const tooOld = (driverCuda > 0 && driverCuda < needCuda) || (driverCuda === 0 && branchTooOld);
  const driver: DriverCheck = {
    ...(nvidiaVersion !== undefined ? { found: nvidiaVersion } : {}),
    foundCuda: formatCudaVersion(driverCuda),
    needed: driverNeeded(runtime),
    ok: !tooOld,
  };
  if (!tooOld) return { ...info, driver };
  const found = nvidiaVersion !== undefined ? `NVIDIA driver ${nvidiaVersion} (CUDA ${driver.foundCuda})` : `the NVIDIA driver (CUDA ${driver.foundCuda})`;
  return {
    ...info,
    cuda: {
      ...info.cuda,
      deviceCount: 0,
      devices: [],
      reason: `${found} is too old: this binary's CUDA ${formatCudaVersion(runtime)} runtime needs driver ${driver.needed}; update the driver to use the GPU`,
    },
    driver,
  };
}

/**
 * For tests of the driver check on any machine: ELECTRA_FAKE_DRIVER=
 * "550.54.15:12.4" reports that kernel driver and the CUDA version it
 * supports instead of the real ones.
 */
function fakeDriver(): { nvidia: string; driverVersion: number } | undefined {
  const spec = process.env.ELECTRA_FAKE_DRIVER;
  if (spec === undefined || spec === '') return undefined;
  const m = /^(\d+\.\d+(?:\.\d+)?):(\d+)\.(\d)$/.exec(spec);
  if (!m) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `ELECTRA_FAKE_DRIVER must be "<driver version>:<CUDA major.minor>", e.g. "550.54.15:12.4", got '${spec}'`);
  }
  return { nvidia: m[1], driverVersion: Number(m[2]) * 1000 + Number(m[3]) * 10 };
}

/** The addon's info() with the driver check: the one reader of the machine's CUDA picture. */
export function machineInfo(): MachineInfo {
  const native = wrapNative(() => loadNative().info());
  const fake = fakeDriver();
  if (!fake) return checkDriver(native, readNvidiaDriverVersion());
  return checkDriver({ ...native, cuda: { ...native.cuda, driverVersion: fake.driverVersion } }, fake.nvidia);
}
