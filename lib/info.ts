/** Backend description: what the addon was built with and what it found. */
import { machineInfo, type MachineInfo } from './driver';
import { nativeBinary, type NativeBinary, type NativeCudaDevice } from './native';

export type CudaDeviceInfo = NativeCudaDevice;

export interface BackendInfo extends MachineInfo {
  /** The backend training would use: 'cuda' when a GPU is usable, else 'cpu'. */
  backend: 'cpu' | 'cuda';
  /** The addon file in use: a prebuilt one (prebuilds/) or one built on this machine (build/Release/). */
  binary: NativeBinary;
  /** Node.js version and platform, for bug reports. */
  node: string;
  platform: string;
}

export function getInfo(): BackendInfo {
  const info = machineInfo();
  return {
    ...info,
    backend: info.cudaCompiled && info.cuda.deviceCount > 0 ? 'cuda' : 'cpu',
    binary: nativeBinary(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
