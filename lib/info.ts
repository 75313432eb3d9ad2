/** Backend description: what the addon was built with and what it found. */
import { wrapNative } from './errors';
import { loadNative, type NativeCudaDevice, type NativeInfo } from './native';

export type CudaDeviceInfo = NativeCudaDevice;

export interface BackendInfo extends NativeInfo {
  /** The backend training would use: 'cuda' when a GPU is usable, else 'cpu'. */
  backend: 'cpu' | 'cuda';
  /** Node.js version and platform, for bug reports. */
  node: string;
  platform: string;
}

export function getInfo(): BackendInfo {
  const native = loadNative();
  const info = wrapNative(() => native.info());
  return {
    ...info,
    backend: info.cudaCompiled && info.cuda.deviceCount > 0 ? 'cuda' : 'cpu',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}
