/**
 * Device selection: the one place that turns `device: 'auto' | 'cpu' | 'cuda'
 * | 'cuda:N'` and `precision: 'fp32' | 'bf16'` into the addon's Model options,
 * and the place that reports why a GPU cannot be used.
 *
 *  - 'cpu': the CPU backend (fp32 only; asking for 'bf16' there is
 *    ERR_INVALID_ARGUMENT).
 *  - 'cuda' (= 'cuda:0') or 'cuda:N': CUDA device N, 'bf16' by default. When
 *    the binary has no CUDA, info() finds no GPU, N is out of range or the
 *    device cannot be used (driver too old: see driver.ts; no kernel image
 *    for its architecture, ...), ERR_NO_DEVICE naming the reason and the CUDA driver
 *    and runtime versions; GPU out of memory is ERR_OUT_OF_MEMORY, with the same.
 *  - 'auto' (the default): CUDA device 0 when info() reports one and it can be
 *    used, else the CPU. Falling back although CUDA is compiled in gives ONE
 *    line of notice: to the caller's `onDeviceNotice` when given (every time),
 *    else through process.emitWarning, once per process. A binary built
 *    without CUDA falls back silently: there is nothing to report.
 */
import { formatCudaVersion, machineInfo } from './driver';
import { ElectraError, toElectraError } from './errors';
import type { NativeInfo } from './native';
import type { NativeDeviceInfo, NativeExecOptions } from './native-model';

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
export type Precision = 'fp32' | 'bf16';

/** Where a model lives, as resolved. `description` is the backend's own, e.g. "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, bf16)". */
export type ResolvedDevice =
  | { backend: 'cpu'; precision: 'fp32'; description: string }
  | { backend: 'cuda'; index: number; precision: Precision; description: string };

/** A short name of a resolved device: 'cpu' or 'cuda:N'. */
export type DeviceLabel = 'cpu' | `cuda:${number}`;

/** Receives the one-line notice of an 'auto' fallback to the CPU. */
export type DeviceNotice = (message: string) => void;

/** The device options of ElectraModel.create / load (and Trainer.resume). */
export interface DeviceOptions {
  /** 'auto' (default): a usable GPU when there is one, else the CPU. */
  device?: Device;
  /** GEMM precision: 'bf16' (default on CUDA; fp32 accumulation and master weights) or 'fp32' (the only one on the CPU). */
  precision?: Precision;
  /**
   * Where the notice of an 'auto' fallback to the CPU goes. Default: one
   * process.emitWarning (type 'ElectraDeviceNotice') per process.
   */
  onDeviceNotice?: DeviceNotice;
}

export type DeviceRequest = { kind: 'auto' } | { kind: 'cpu' } | { kind: 'cuda'; index: number };

const DEVICE_FORMS = "'auto', 'cpu', 'cuda' or 'cuda:N' (N a device index >= 0)";

/** Parses a device name; anything but 'auto' | 'cpu' | 'cuda' | 'cuda:N' is ERR_INVALID_ARGUMENT. */
export function parseDevice(d: unknown): DeviceRequest {
  if (d === 'auto') return { kind: 'auto' };
  if (d === 'cpu') return { kind: 'cpu' };
  if (d === 'cuda') return { kind: 'cuda', index: 0 };
  if (typeof d === 'string') {
    const m = /^cuda:(\d{1,6})$/.exec(d);
    if (m) return { kind: 'cuda', index: Number(m[1]) };
  }
  const shown = typeof d === 'string' ? `'${d}'` : String(d);
  throw new ElectraError('ERR_INVALID_ARGUMENT', `device must be ${DEVICE_FORMS}, got ${shown}`);
}

/** Checks a precision option (undefined: the device's default). */
export function parsePrecision(p: unknown): Precision | undefined {
  if (p === undefined || p === 'fp32' || p === 'bf16') return p;
  const shown = typeof p === 'string' ? `'${p}'` : String(p);
  throw new ElectraError('ERR_INVALID_ARGUMENT', `precision must be 'fp32' or 'bf16', got ${shown}`);
}

export { formatCudaVersion };

/** "CUDA driver 12.4, runtime 13.0" from info(). */
export function cudaVersions(info: Pick<NativeInfo, 'cuda'>): string {
  return `CUDA driver ${formatCudaVersion(info.cuda.driverVersion)}, runtime ${formatCudaVersion(info.cuda.runtimeVersion)}`;
}

export function deviceLabel(d: ResolvedDevice): DeviceLabel {
  return d.backend === 'cpu' ? 'cpu' : `cuda:${d.index}`;
}

/**
 * Whether a requested device (a Trainer's `device` option) is satisfied by a
 * model's resolved device: 'auto' by any, 'cpu' by the CPU, 'cuda' by any CUDA
 * device, 'cuda:N' by device N.
 */
export function deviceMatches(requested: Device, resolved: ResolvedDevice): boolean {
  const r = parseDevice(requested);
  if (r.kind === 'auto') return true;
  if (r.kind === 'cpu') return resolved.backend === 'cpu';
  if (resolved.backend !== 'cuda') return false;
  return requested === 'cuda' || resolved.index === r.index;
}

/** The addon's device() result as a ResolvedDevice. */
export function toResolvedDevice(d: NativeDeviceInfo): ResolvedDevice {
  if (d.backend === 'cuda') return { backend: 'cuda', index: d.device, precision: d.precision, description: d.description };
  return { backend: 'cpu', precision: 'fp32', description: d.description };
}

// ---- the fallback notice -------------------------------------------------

let noticeEmitted = false;

function deliverNotice(text: string, onNotice: DeviceNotice | undefined): void {
  const message = text.replace(/\s*\n\s*/g, ' ');
  if (onNotice) {
    onNotice(message);
    return;
  }
  if (noticeEmitted) return;
  noticeEmitted = true;
  process.emitWarning(message, { type: 'ElectraDeviceNotice', code: 'ELECTRA_CPU_FALLBACK' });
}

// ---- resolution ------------------------------------------------------------

/** The machine's CUDA picture, or why it could not be read. */
function readInfo(): { info?: NativeInfo; error?: ElectraError } {
  try {
    return { info: machineInfo() };
  } catch (e) {
    return { error: toElectraError(e) };
  }
}

/** Why CUDA device `index` cannot be used according to info(), or null when it can be tried. */
function unusableReason(info: NativeInfo, index: number): string | null {
  if (!info.cudaCompiled) return 'this binary was built without CUDA';
  const n = info.cuda.deviceCount;
  if (n === 0) return info.cuda.reason ?? 'no CUDA device found';
  if (index >= n) return `there ${n === 1 ? 'is 1 CUDA device (cuda:0)' : `are ${n} CUDA devices (cuda:0 to cuda:${n - 1})`}`;
  return null;
}

const FALLBACK_CODES = new Set(['ERR_NO_DEVICE', 'ERR_DEVICE', 'ERR_OUT_OF_MEMORY']);

/**
 * Creates a native object on the device `opts` asks for. `create` gets the
 * addon's Model options; its device failures (ERR_NO_DEVICE, ERR_DEVICE,
 * ERR_OUT_OF_MEMORY) are reported as described at the top of this file, and
 * any other failure is rethrown as an ElectraError.
 */
export function createOnDevice<T>(opts: DeviceOptions, create: (exec: NativeExecOptions) => T): T {
  const req = parseDevice(opts.device === undefined ? 'auto' : opts.device);
  const precision = parsePrecision(opts.precision);
  if (opts.onDeviceNotice !== undefined && typeof opts.onDeviceNotice !== 'function') {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `onDeviceNotice must be a function, got ${typeof opts.onDeviceNotice}`);
  }
  const onCpu = (why?: string): T => {
    if (precision === 'bf16') {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `precision 'bf16' needs a CUDA GPU, but ${why ?? "device 'cpu' was asked for"}; the CPU backend computes in fp32: use precision 'fp32' or leave it unset`,
      );
    }
    try {
      return create({ backend: 'cpu', precision: 'fp32' });
    } catch (e) {
      throw toElectraError(e);
    }
  };
  if (req.kind === 'cpu') return onCpu();

  const index = req.kind === 'cuda' ? req.index : 0;
  const name = req.kind === 'cuda' ? `'${String(opts.device)}'` : "'auto'";
  const { info, error } = readInfo();
  const versions = info ? cudaVersions(info) : 'CUDA driver and runtime versions unknown';
  let why = error ? `querying the GPUs failed: ${error.message}` : unusableReason(info!, index);
  let cause: unknown = error;
  let failure: ElectraError | undefined;
  if (why === null) {
    try {
      return create({ backend: 'cuda', device: index, ...(precision ? { precision } : {}) });
    } catch (e) {
      failure = toElectraError(e);
      if (!FALLBACK_CODES.has(failure.code)) throw failure;
      why = `cuda:${index} cannot be used: ${failure.message}`;
      cause = failure;
    }
  }
  const detail = `${why} (${versions})`;
  if (req.kind === 'cuda') {
    const code = failure?.code === 'ERR_OUT_OF_MEMORY' ? 'ERR_OUT_OF_MEMORY' : 'ERR_NO_DEVICE';
    const rebuild = info !== undefined && !info.cudaCompiled ? 'rebuild with `ELECTRA_CUDA=ON npm run build:native`, or ' : '';
    throw new ElectraError(code, `device ${name} requested, but ${detail}; ${rebuild}use device 'cpu' or 'auto'`, { cause });
  }
  const quiet = info !== undefined && !info.cudaCompiled;
  const model = onCpu(`no GPU can be used: ${detail}`);
  if (!quiet) deliverNotice(`device 'auto': no usable GPU, using the CPU: ${detail}`, opts.onDeviceNotice);
  return model;
}
