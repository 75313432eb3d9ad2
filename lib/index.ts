/**
 * electra-native: ELECTRA pre-training for Node.js with a C++/CUDA core.
 */
export { ElectraError, ELECTRA_ERROR_CODES, isElectraErrorCode, toElectraError } from './errors';
export type { ElectraErrorCode } from './errors';
export { getInfo } from './info';
export type { BackendInfo, CudaDeviceInfo } from './info';
export { loadNative } from './native';
export type { NativeBinding, NativeInfo, NativeDebugOps } from './native';

// ---------------------------------------------------------------------------
// TODO(lead): the training API goes here — `export default Trainer` plus the
// named exports ElectraConfig, ElectraModel, AdamW, ... (lib/trainer.ts,
// lib/config.ts, lib/model.ts, lib/optimizer.ts). Nothing is stubbed yet.
// ---------------------------------------------------------------------------
