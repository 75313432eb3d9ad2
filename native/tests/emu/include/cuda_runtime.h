// CUDA emulator shim (host side + device builtins) for testing kernels on CPU.
// Kernels run as fibers on one OS thread, one block at a time; __syncthreads /
// __syncwarp / shuffles / wmma ops are real barriers between fibers, and the
// order fibers run between barriers is forward, reverse or random
// (EMU_ORDER=fwd|rev|rand), so missing barriers show up as wrong results.
// "Device" memory is host memory obtained through cudaMalloc (tracked, 0xFF
// poisoned); kernels run synchronously at launch; streams are in-order no-ops.
// Pinned host memory (cudaMallocHost / cudaHostAlloc) is tracked too: an
// asynchronous device-to-host copy into it lands only when the stream, an
// event recorded after it, or the device is synchronised (until then the
// destination holds 0xFF garbage), and a pinned source of an asynchronous
// host-to-device copy that the host rewrites before such a synchronisation
// is reported as a race.
#pragma once
// Lets project headers pick the emulator's implementation of what they would
// otherwise write as inline PTX (native/cuda/mma_ptx.h), and tests that only
// make sense on the emulator (host-sync counts) compile in.
#define ELECTRA_CUDA_EMULATOR 1
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
  cudaErrorSystemDriverMismatch = 803,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorCapturedEvent = 907,
};
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
                             cudaStreamCaptureModeRelaxed = 2 };
enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone = 0, cudaStreamCaptureStatusActive = 1,
                               cudaStreamCaptureStatusInvalidated = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
                         cudaFuncAttributePreferredSharedMemoryCarveout = 9 };
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
struct uint3 { unsigned x, y, z; };
// Vector types as CUDA aligns them (a misaligned vector access is a fault there
// and undefined behaviour here).
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return uint2{x, y}; }
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  int l2CacheSize;
  int clockRate;
  int memoryClockRate;
  int memoryBusWidth;
};
struct cudaFuncAttributes {
  size_t sharedSizeBytes;
  size_t constSizeBytes;
  size_t localSizeBytes;
  int maxThreadsPerBlock;
  int numRegs;
  int ptxVersion;
  int binaryVersion;
  int maxDynamicSharedSizeBytes;
};

namespace emu {
extern cudaError_t g_last_error;
cudaError_t record(cudaError_t e);  // records a failing API result as the last error; returns e
// Conservatively refused while a (global or thread-local) capture runs: it
// invalidates the capture, like a sync (the backend sets attributes once,
// before any capture: cuda::opt_in_smem_once).
cudaError_t set_func_smem(const void* f, int bytes);
int func_smem(const void* f);
// The per-block opt-in shared memory limit: 101376 bytes (sm_86/89, the
// strictest target) unless EMU_SMEM_OPTIN says otherwise (read at each call).
int smem_optin();
void run_grid(const char* name, const void* fkey, dim3 grid, dim3 block, size_t smem, int max_threads,
              const std::function<void()>& body);
// Runs (or, on a capturing stream, records) one kernel launch: logs it, checks
// its pointer arguments against the live allocations and the stream order,
// runs the grid.
struct KernelLaunch {
  std::string name, args;  // args: the launch log's scalar-argument text
  std::vector<const void*> ptrs;
  const void* fkey;
  dim3 grid, block;
  size_t smem;
  int max_threads;
  std::function<void()> body;  // the kernel with its arguments, copied by value
};
void launch_kernel(cudaStream_t st, KernelLaunch k);
// Stream capture (cudaStreamBeginCapture ... cudaStreamEndCapture). While a
// stream captures, the kernels, asynchronous copies and memsets issued on it
// are recorded as graph nodes, not run; cudaGraphLaunch runs them in order on
// its stream. A kernel's arguments are copied at capture (a host scalar that
// changes later is not seen by a replay); an asynchronous copy reads its
// source when the node runs (pinned host memory: at each replay).
bool capturing(cudaStream_t s);
// The capture status of s; a node recorded into its graph. Recording into an
// invalidated capture is the error CUDA gives (cudaErrorStreamCaptureInvalidated).
cudaError_t capture_status(cudaStream_t s, cudaStreamCaptureStatus* st);
cudaError_t record_node(cudaStream_t s, const char* what, std::function<void(cudaStream_t)> run);
// A call that CUDA prohibits during a capture (a synchronisation, a
// synchronous copy, an allocation, a pageable copy into a capture): when
// `s`'s capture, or any capture in global mode (s == nullptr: any), forbids
// it, that capture is invalidated and cudaErrorStreamCaptureUnsupported is
// returned; else cudaSuccess.
cudaError_t capture_forbids(cudaStream_t s, const char* what);
cudaError_t begin_capture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t end_capture(cudaStream_t s, cudaGraph_t* g);
cudaError_t graph_instantiate(cudaGraphExec_t* e, cudaGraph_t g);
cudaError_t graph_launch(cudaGraphExec_t e, cudaStream_t s);
cudaError_t graph_destroy(cudaGraph_t g);
cudaError_t graph_exec_destroy(cudaGraphExec_t e);
// Graph launches so far (each logged as "GRAPH nodes N", then its nodes, each
// line prefixed "NODE ").
uint64_t graph_launches();
void check_kernel_ptr(const char* name, int arg, const void* p);
float* dyn_smem();
void poison_shared(void* p, size_t bytes);
void block_barrier();
int block_barrier_or(int v);
void warp_barrier();
void* warp_slot(int lane);
// 64 bytes per lane of the current warp, for collectives that exchange more
// than a shuffle's 8 bytes (ldmatrix row addresses, mma fragments).
void* warp_xchg(int lane);
// cp.async (mma_ptx_emu.h, native/cuda/mma_ptx.h): per thread, the copy reads
// its source at issue and poisons its destination (0xFF) until a wait that
// covers its committed group lands it, so reading shared memory before the
// wait (or before the barrier after another thread's wait) reads garbage.
void cp_async(void* dst, const void* src, int bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int pending);
int lane_id();
bool is_device_range(const void* p, size_t n);
cudaError_t malloc_dev(void** p, size_t n);
cudaError_t free_dev(void* p);
cudaError_t copy(void* d, const void* s, size_t n, cudaMemcpyKind k);
cudaError_t copy_on(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t st, bool sync);
cudaError_t memset_on(void* d, int v, size_t n, cudaStream_t st);
// Pinned host memory (see the top of this file).
cudaError_t malloc_host(void** p, size_t n);
cudaError_t free_host(void* p);
bool is_pinned_range(const void* p, size_t n);
// Host synchronisations so far: stream, device and event synchronisations, and
// the copies that block the host (synchronous device-to-host cudaMemcpy, and an
// asynchronous one with a pageable host side, which CUDA also runs synchronously).
uint64_t host_syncs();
void note_host_sync(const char* what);
// Event completion: pending pinned copies of `s` issued before sequence number seq land.
uint64_t next_seq();
void complete_until(cudaStream_t s, uint64_t seq);
void stream_access(cudaStream_t st, const void* p, const char* op);
void sync_stream(cudaStream_t s);
void sync_device();
uint64_t race_count();
cudaError_t memset_dev(void* d, int v, size_t n);
cudaError_t mem_info(size_t* f, size_t* t);
cudaError_t device_props(cudaDeviceProp* p, int dev);
cudaError_t set_device(int d);
bool valid_stream(cudaStream_t s);
cudaStream_t new_stream(unsigned flags);
cudaError_t destroy_stream(cudaStream_t s);
const char* error_name(cudaError_t e);
const char* error_string(cudaError_t e);
[[noreturn]] void fault(const char* fmt, ...);
// Launch log (EMU_LAUNCH_LOG=path): one line per kernel launch, memset, copy,
// synchronisation and profiler range mark, for scripts/cuda-static-report.
bool logging();
void log_line(const char* fmt, ...);
// EMU_DRY_RUN=1: kernels are logged but not run, device memory is mapped
// lazily and not poisoned, device memsets and device-to-device copies are
// skipped. Only the sequence of device work is meaningful (shape-driven).
bool dry_run();
}  // namespace emu

inline const char* cudaGetErrorName(cudaError_t e) { return emu::error_name(e); }
inline const char* cudaGetErrorString(cudaError_t e) { return emu::error_string(e); }
inline cudaError_t cudaGetLastError() { cudaError_t e = emu::g_last_error; emu::g_last_error = cudaSuccess; return e; }
inline cudaError_t cudaPeekAtLastError() { return emu::g_last_error; }
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t n) { return emu::malloc_dev(reinterpret_cast<void**>(p), n); }
inline cudaError_t cudaFree(void* p) { return emu::free_dev(p); }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind k) {
  if (cudaError_t e = emu::capture_forbids(nullptr, "cudaMemcpy"); e != cudaSuccess) return e;
  return emu::copy_on(d, s, n, k, nullptr, true);
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t st = nullptr) {
  if (!emu::valid_stream(st)) return emu::record(cudaErrorInvalidResourceHandle);
  return emu::copy_on(d, s, n, k, st, false);
}
inline cudaError_t cudaMemset(void* d, int v, size_t n) { return emu::memset_on(d, v, n, nullptr); }
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t st = nullptr) {
  if (!emu::valid_stream(st)) return emu::record(cudaErrorInvalidResourceHandle);
  return emu::memset_on(d, v, n, st);
}
inline cudaError_t cudaMemGetInfo(size_t* f, size_t* t) { return emu::mem_info(f, t); }
// Kernels run to completion at launch: synchronisation only reports (sticky) errors.
inline cudaError_t cudaDeviceSynchronize() {
  if (cudaError_t e = emu::capture_forbids(nullptr, "cudaDeviceSynchronize"); e != cudaSuccess) return e;
  emu::note_host_sync("device");
  emu::sync_device();
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t st) {
  if (!emu::valid_stream(st)) return emu::record(cudaErrorInvalidResourceHandle);
  if (emu::capturing(st)) return emu::capture_forbids(st, "cudaStreamSynchronize");
  emu::note_host_sync("stream");
  emu::sync_stream(st);
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned f) { *s = emu::new_stream(f); return cudaSuccess; }
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = emu::new_stream(0); return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) { return emu::destroy_stream(s); }
inline cudaError_t cudaSetDevice(int d) { return emu::set_device(d); }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) { return emu::device_props(p, d); }
enum cudaDeviceAttr { cudaDevAttrMaxThreadsPerBlock = 1, cudaDevAttrMultiProcessorCount = 16,
                      cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  cudaDeviceProp p;
  if (cudaError_t e = emu::device_props(&p, d); e != cudaSuccess) return e;
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock: *v = p.maxThreadsPerBlock; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *v = p.multiProcessorCount; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = int(p.sharedMemPerBlockOptin); return cudaSuccess;
  }
  return emu::record(cudaErrorInvalidValue);
}
inline cudaError_t cudaDriverGetVersion(int* v) { *v = 13000; return cudaSuccess; }
inline cudaError_t cudaRuntimeGetVersion(int* v) { *v = 13000; return cudaSuccess; }
template <class F>
cudaError_t cudaFuncSetAttribute(F* f, cudaFuncAttribute a, int v) {
  if (a != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (v < 0 || v > emu::smem_optin()) return emu::record(cudaErrorInvalidValue);  // EMU_SMEM_OPTIN
  return emu::set_func_smem(reinterpret_cast<const void*>(f), v);
}
template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, F* f) {
  std::memset(a, 0, sizeof(*a));
  a->maxThreadsPerBlock = 1024;
  a->numRegs = 32;
  a->ptxVersion = 90;
  a->binaryVersion = 90;
  a->maxDynamicSharedSizeBytes = emu::func_smem(reinterpret_cast<const void*>(f));
  return cudaSuccess;
}
// Events: host wall clock; an event is complete once recorded (work runs at
// launch), and synchronising on it lands the pinned copies issued before it on its stream.
// An event recorded on a capturing stream belongs to the capture: waiting on
// it is cudaErrorCapturedEvent (as on a GPU) until it is recorded again outside.
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
  uint64_t seq = 0;
  cudaStream_t stream = nullptr;
  bool captured = false;
};
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new CUevent_st(); return cudaSuccess; }
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { *e = new CUevent_st(); return cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  if (!emu::valid_stream(s)) return emu::record(cudaErrorInvalidResourceHandle);
  if (emu::capturing(s)) {
    cudaStreamCaptureStatus cs;
    emu::capture_status(s, &cs);
    if (cs != cudaStreamCaptureStatusActive) return emu::record(cudaErrorStreamCaptureInvalidated);
    e->captured = true;
    return cudaSuccess;
  }
  e->t = std::chrono::steady_clock::now();
  e->seq = emu::next_seq();
  e->stream = s;
  e->captured = false;
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (e->captured) return emu::record(cudaErrorCapturedEvent);
  if (cudaError_t c = emu::capture_forbids(nullptr, "cudaEventSynchronize"); c != cudaSuccess) return c;
  emu::note_host_sync("event");
  emu::complete_until(e->stream, e->seq);
  return cudaSuccess;
}
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
// Pinned host memory.
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
inline cudaError_t cudaMallocHost(void** p, size_t n) { return emu::malloc_host(p, n); }
template <class T>
inline cudaError_t cudaMallocHost(T** p, size_t n) { return emu::malloc_host(reinterpret_cast<void**>(p), n); }
inline cudaError_t cudaHostAlloc(void** p, size_t n, unsigned flags) {
  if (flags & ~unsigned(cudaHostAllocPortable)) return emu::record(cudaErrorInvalidValue);  // mapped/write-combined: not emulated
  return emu::malloc_host(p, n);
}
inline cudaError_t cudaFreeHost(void* p) { return emu::free_host(p); }
// Stream capture and graphs (CUDA 12/13 signatures).
inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  return emu::begin_capture(s, mode);
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) { return emu::end_capture(s, g); }
inline cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* st) {
  return emu::capture_status(s, st);
}
#define cudaGraphInstantiateFlagAutoFreeOnLaunch 1
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long flags = 0) {
  if (flags & ~1ull) return emu::record(cudaErrorInvalidValue);  // other flags: not emulated
  return emu::graph_instantiate(e, g);
}
inline cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long flags = 0) {
  return cudaGraphInstantiate(e, g, flags);
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) { return emu::graph_launch(e, s); }
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { return emu::graph_destroy(g); }
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { return emu::graph_exec_destroy(e); }

// ---------------------------------------------------------------- device side
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Empty (a code-size hint only): a system header's __attribute__((__noinline__))
// included after this stays valid.
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
// __shared__ is rewritten by rewrite.py (static + per-block poisoning).
using std::max;
using std::min;
using std::isfinite;
using std::isnan;
using std::isinf;
inline float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
inline float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
inline float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
inline float __fdiv_rn(float a, float b) { volatile float r = a / b; return r; }
inline double __dmul_rn(double a, double b) { volatile double r = a * b; return r; }
inline double __dadd_rn(double a, double b) { volatile double r = a + b; return r; }
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }  // L2 only: the memory model here is sequential
inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline double atomicAdd(double* p, double v) { double o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline unsigned atomicInc(unsigned* p, unsigned limit) { unsigned o = *p; *p = o >= limit ? 0 : o + 1; return o; }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { auto o = *p; *p = o + v; return o; }
inline int atomicMax(int* p, int v) { int o = *p; if (v > o) *p = v; return o; }
inline int atomicMin(int* p, int v) { int o = *p; if (v < o) *p = v; return o; }
inline int atomicCAS(int* p, int c, int v) { int o = *p; if (o == c) *p = v; return o; }
inline void __threadfence() {}
inline void __syncthreads() { emu::block_barrier(); }
inline int __syncthreads_or(int v) { return emu::block_barrier_or(v); }
inline void __syncwarp(unsigned m = 0xffffffffu) {
  if (m != 0xffffffffu) emu::fault("__syncwarp with a partial mask %#x is not emulated", m);
  emu::warp_barrier();
}
template <class T>
T emu_shfl(unsigned mask, T v, int src_of_lane_fn_kind, int arg, int width) {
  static_assert(sizeof(T) <= 8, "");
  if (mask != 0xffffffffu) emu::fault("shuffle with a partial mask %#x is not emulated", mask);
  const int lane = emu::lane_id();
  std::memcpy(emu::warp_slot(lane), &v, sizeof(T));
  emu::warp_barrier();
  int src = lane;
  const int base = lane & ~(width - 1);
  switch (src_of_lane_fn_kind) {
    case 0: src = base + ((lane - base) ^ arg); if (src >= base + width) src = lane; break;  // xor
    case 1: src = base + (arg & (width - 1)); break;                                          // idx
    case 2: src = lane + arg; if (src >= base + width) src = lane; break;                     // down
    case 3: src = lane - arg; if (src < base) src = lane; break;                               // up
  }
  T r;
  std::memcpy(&r, emu::warp_slot(src), sizeof(T));
  emu::warp_barrier();
  return r;
}
template <class T> T __shfl_xor_sync(unsigned m, T v, int x, int w = 32) { return emu_shfl(m, v, 0, x, w); }
template <class T> T __shfl_sync(unsigned m, T v, int x, int w = 32) { return emu_shfl(m, v, 1, x, w); }
template <class T> T __shfl_down_sync(unsigned m, T v, unsigned x, int w = 32) { return emu_shfl(m, v, 2, int(x), w); }
template <class T> T __shfl_up_sync(unsigned m, T v, unsigned x, int w = 32) { return emu_shfl(m, v, 3, int(x), w); }

namespace emu {
// The launch-log name of a template kernel instantiation: base<v1,v2,...>
// (rewrite.py passes the template arguments' values).
inline std::string template_arg(bool v) { return v ? "true" : "false"; }
template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
inline std::string template_arg(T v) { return std::to_string(v); }
inline std::string kernel_name(const char* base, std::initializer_list<std::string> args) {
  std::string s = std::string(base) + "<";
  bool first = true;
  for (const std::string& a : args) {
    s += (first ? "" : ",") + a;
    first = false;
  }
  return s + ">";
}
struct Launcher {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  Launcher(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr) : grid(g), block(b), smem(s), stream(st) {}
  template <class A>
  void check_arg(const char* name, int i, const A& a) {
    if constexpr (std::is_pointer_v<A>) {
      if (a != nullptr) check_kernel_ptr(name, i, reinterpret_cast<const void*>(a));
    }
  }
  // Scalar kernel arguments, in order, for the launch log ("p" for a pointer,
  // "s" for a struct).
  template <class A>
  static void arg_text(char*& o, char* end, const A& a) {
    if (o >= end) return;
    int n = 0;
    if constexpr (std::is_pointer_v<A>) n = std::snprintf(o, size_t(end - o), " p");
    else if constexpr (std::is_floating_point_v<A>) n = std::snprintf(o, size_t(end - o), " %.9g", double(a));
    else if constexpr (std::is_integral_v<A> || std::is_enum_v<A>) n = std::snprintf(o, size_t(end - o), " %lld", (long long)a);
    else n = std::snprintf(o, size_t(end - o), " s");
    o += n > 0 ? n : 0;
  }
  template <class F, class... Args>
  void run(const char* name, int max_threads, F* kernel, Args... args) {
    if (!valid_stream(stream)) { record(cudaErrorInvalidResourceHandle); return; }
    KernelLaunch k;
    k.name = name;
    if (logging()) {
      char buf[1024], *o = buf;
      buf[0] = 0;
      (arg_text(o, buf + sizeof(buf), args), ...);
      k.args = buf;
    }
    int i = 0;
    (check_arg(name, i++, args), ...);
    (add_ptr(k.ptrs, args), ...);
    k.fkey = reinterpret_cast<const void*>(kernel);
    k.grid = grid;
    k.block = block;
    k.smem = smem;
    k.max_threads = max_threads;
    k.body = [=]() { kernel(args...); };  // by value: what a captured launch replays
    launch_kernel(stream, std::move(k));
  }
  template <class A>
  static void add_ptr(std::vector<const void*>& v, const A& a) {
    if constexpr (std::is_pointer_v<A>)
      if (a != nullptr) v.push_back(reinterpret_cast<const void*>(a));
  }
};
}  // namespace emu
