// Fiber scheduler + host runtime of the CUDA emulator (see include/cuda_runtime.h).
#include <sys/mman.h>
#ifdef EMU_UCONTEXT
#include <ucontext.h>
#endif

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <unordered_set>

#include "cuda_runtime.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

#ifndef EMU_UCONTEXT
// x86-64 SysV context switch: saves callee-saved registers + MXCSR/x87 CW on
// the current stack, stores rsp in *save, switches to `to`.
extern "C" void emu_switch(void** save, void* to);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size emu_switch, .-emu_switch
)");
#endif

namespace emu {
cudaError_t g_last_error = cudaSuccess;
cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) g_last_error = e;
  return e;
}
bool dry_run() {
  static const bool d = [] {
    const char* e = std::getenv("EMU_DRY_RUN");
    return e && *e && std::strcmp(e, "0") != 0;
  }();
  return d;
}
static std::FILE* log_file() {
  static std::FILE* f = [] {
    const char* e = std::getenv("EMU_LAUNCH_LOG");
    return e && *e ? std::fopen(e, "w") : nullptr;
  }();
  return f;
}
bool logging() { return log_file() != nullptr; }
static bool g_in_graph = false;  // a graph's nodes are running: their log lines start with "NODE "
void log_line(const char* fmt, ...) {
  std::FILE* f = log_file();
  if (!f) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  // One record per line, fields split by single spaces: a kernel name's own
  // spaces (template arguments as written in the source) are dropped.
  std::string line(buf);
  const size_t name_end = line.rfind(" grid ");
  if (line.rfind("KERNEL ", 0) == 0 && name_end != std::string::npos) {
    std::string name = line.substr(7, name_end - 7);
    name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
    line = "KERNEL " + name + line.substr(name_end);
  }
  if (g_in_graph) line = "NODE " + line;
  std::fprintf(f, "%s\n", line.c_str());
  std::fflush(f);
}
void fault(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "EMU FAULT: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::abort();
}

// ------------------------------------------------------------------ memory
static std::mutex g_mem_mu;
static uint64_t g_races = 0;  // stream-order and pinned-copy races (EMU RACE)
static void complete_pinned(bool all, cudaStream_t s, uint64_t upto);
static std::map<uintptr_t, size_t> g_allocs;  // start -> bytes
static size_t g_used = 0;
static std::map<uintptr_t, std::map<cudaStream_t, const char*>> g_pending;  // alloc start -> stream -> op
static size_t total_mem() {
  static size_t t = [] {
    const char* e = std::getenv("EMU_MEM_MB");
    return size_t(e ? std::atoll(e) : 8192) << 20;
  }();
  return t;
}
bool is_device_range(const void* p, size_t n) {
  std::lock_guard<std::mutex> l(g_mem_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second;
}
cudaError_t malloc_dev(void** p, size_t n) {
  if (p == nullptr) return record(cudaErrorInvalidValue);
  if (cudaError_t e = capture_forbids(nullptr, "cudaMalloc"); e != cudaSuccess) return e;
  *p = nullptr;
  if (n == 0) return cudaSuccess;
  const size_t rounded = (n + 255) / 256 * 256;
  {
    std::lock_guard<std::mutex> l(g_mem_mu);
    if (n > total_mem() || rounded > total_mem() - g_used) return record(cudaErrorMemoryAllocation);
  }
  void* q = nullptr;
  if (dry_run()) {  // untouched pages cost nothing: a full-size step fits in host memory
    q = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (q == MAP_FAILED) return record(cudaErrorMemoryAllocation);
  } else {
    if (posix_memalign(&q, 256, n) != 0 || !q) return record(cudaErrorMemoryAllocation);
    std::memset(q, 0xff, n);  // uninitialised device memory: NaN / -1 garbage
  }
  if (logging()) log_line("MALLOC %zu", n);
  std::lock_guard<std::mutex> l(g_mem_mu);
  g_allocs[reinterpret_cast<uintptr_t>(q)] = n;
  g_used += rounded;
  *p = q;
  return cudaSuccess;
}
cudaError_t free_dev(void* p) {
  if (!p) return cudaSuccess;
  if (cudaError_t e = capture_forbids(nullptr, "cudaFree"); e != cudaSuccess) return e;
  complete_pinned(true, nullptr, 0);  // cudaFree synchronises the device
  std::lock_guard<std::mutex> l(g_mem_mu);
  auto it = g_allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_allocs.end()) return record(cudaErrorInvalidDevicePointer);
  const size_t bytes = it->second;
  g_used -= (bytes + 255) / 256 * 256;
  g_allocs.erase(it);
  g_pending.clear();  // cudaFree synchronises the device
  if (logging()) log_line("FREE %zu", bytes);
  if (dry_run()) munmap(p, bytes);
  else std::free(p);
  return cudaSuccess;
}
cudaError_t mem_info(size_t* f, size_t* t) {
  std::lock_guard<std::mutex> l(g_mem_mu);
  if (f) *f = total_mem() - g_used;
  if (t) *t = total_mem();
  return cudaSuccess;
}
// Checks a copy's direction against the live allocations (EMU_STRICT: abort).
static cudaError_t check_copy(void* d, const void* s, size_t n, cudaMemcpyKind k) {
  if (!d || !s) return record(cudaErrorInvalidValue);
  const bool dd = is_device_range(d, n), sd = is_device_range(s, n);
  bool ok = true;
  switch (k) {
    case cudaMemcpyHostToHost: ok = !dd && !sd; break;
    case cudaMemcpyHostToDevice: ok = dd && !sd; break;
    case cudaMemcpyDeviceToHost: ok = !dd && sd; break;
    case cudaMemcpyDeviceToDevice: ok = dd && sd; break;
    case cudaMemcpyDefault: ok = true; break;
  }
  if (!ok) {
    std::fprintf(stderr, "EMU: cudaMemcpy kind %d with dst %s, src %s (%zu bytes; out-of-range or wrong direction)\n",
                 int(k), dd ? "device" : "host/out-of-range", sd ? "device" : "host/out-of-range", n);
    if (std::getenv("EMU_STRICT")) std::abort();
    return record(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
cudaError_t copy(void* d, const void* s, size_t n, cudaMemcpyKind k) {
  if (n == 0) return cudaSuccess;
  if (cudaError_t e = check_copy(d, s, n, k); e != cudaSuccess) return e;
  const bool dd = is_device_range(d, n), sd = is_device_range(s, n);
  if (dry_run() && dd && sd) return cudaSuccess;  // device-side data is not computed in a dry run
  std::memmove(d, s, n);
  return cudaSuccess;
}

// ------------------------------------------------------ pinned host memory
// Asynchronous copies between the device and pinned host memory finish at a
// later synchronisation on a GPU. Kernels here run at launch, so device data
// is already final when a copy is issued; what is emulated is the host side:
//  - device-to-host: the bytes are taken now and land in the pinned buffer at
//    the synchronisation that completes the copy (stream, device, an event
//    recorded after it, cudaFreeHost); until then it holds 0xFF garbage, so a
//    host that reads a download before synchronising reads garbage;
//  - host-to-device: the device gets the bytes now, and the pinned source is
//    compared with them at that synchronisation: a host write in between is a
//    race (the GPU may have copied either version; EMU_STRICT: abort).
struct PinnedCopy {
  bool to_host;
  char* host;
  std::vector<char> bytes;
  cudaStream_t stream;
  uint64_t seq;
};
static std::mutex g_pin_mu;
static std::map<uintptr_t, size_t> g_pinned;  // start -> bytes
static std::vector<PinnedCopy> g_pin_pending;
static uint64_t g_seq = 0, g_host_syncs = 0;
uint64_t next_seq() {
  std::lock_guard<std::mutex> l(g_pin_mu);
  return ++g_seq;
}
bool is_pinned_range(const void* p, size_t n) {
  std::lock_guard<std::mutex> l(g_pin_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_pinned.upper_bound(a);
  if (it == g_pinned.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second;
}
static bool blocking(cudaStream_t s);
// Lands (or checks) the pending copies that a synchronisation of stream s
// (nullptr: the legacy stream, which also waits for the blocking streams; all:
// the device) up to sequence number `upto` completes.
static void complete_pinned(bool all, cudaStream_t s, uint64_t upto) {
  std::lock_guard<std::mutex> l(g_pin_mu);
  for (auto it = g_pin_pending.begin(); it != g_pin_pending.end();) {
    const bool covered = all || ((it->stream == s || (s == nullptr && blocking(it->stream))) && it->seq < upto);
    if (!covered) { ++it; continue; }
    if (it->to_host) {
      std::memcpy(it->host, it->bytes.data(), it->bytes.size());
    } else if (std::memcmp(it->host, it->bytes.data(), it->bytes.size()) != 0) {
      ++g_races;
      std::fprintf(stderr, "EMU RACE: the host rewrote pinned memory %p (%zu bytes) before the asynchronous "
                   "host-to-device copy from it was known to be done\n", (void*)it->host, it->bytes.size());
      if (std::getenv("EMU_STRICT")) std::abort();
    }
    it = g_pin_pending.erase(it);
  }
}
void complete_until(cudaStream_t s, uint64_t seq) { complete_pinned(false, s, seq); }
cudaError_t malloc_host(void** p, size_t n) {
  if (p == nullptr) return record(cudaErrorInvalidValue);
  if (cudaError_t e = capture_forbids(nullptr, "cudaMallocHost"); e != cudaSuccess) return e;
  *p = nullptr;
  if (n == 0) return cudaSuccess;
  void* q = nullptr;
  if (posix_memalign(&q, 4096, n) != 0 || !q) return record(cudaErrorMemoryAllocation);
  std::memset(q, 0xff, n);  // garbage, like any fresh allocation
  if (logging()) log_line("MALLOCHOST %zu", n);
  std::lock_guard<std::mutex> l(g_pin_mu);
  g_pinned[reinterpret_cast<uintptr_t>(q)] = n;
  *p = q;
  return cudaSuccess;
}
cudaError_t free_host(void* p) {
  if (!p) return cudaSuccess;
  if (cudaError_t e = capture_forbids(nullptr, "cudaFreeHost"); e != cudaSuccess) return e;
  complete_pinned(true, nullptr, 0);  // cudaFreeHost waits for the device
  std::lock_guard<std::mutex> l(g_pin_mu);
  auto it = g_pinned.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_pinned.end()) return record(cudaErrorInvalidValue);  // not from cudaMallocHost / cudaHostAlloc
  g_pinned.erase(it);
  std::free(p);
  return cudaSuccess;
}
uint64_t host_syncs() { return g_host_syncs; }
void note_host_sync(const char* what) {
  ++g_host_syncs;
  if (logging()) log_line("SYNC %s", what);
}

cudaError_t copy_on(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t st, bool sync) {
  if (n == 0) return cudaSuccess;
  if (cudaError_t e = check_copy(d, s, n, k); e != cudaSuccess) return e;
  const bool dd = is_device_range(d, n), sd = is_device_range(s, n);
  const bool host_side = dd != sd;
  const bool pinned = host_side && is_pinned_range(dd ? s : d, n);
  if (!sync && capturing(st)) {
    // A pageable host side would need the host to stage or wait: not capturable.
    if (host_side && !pinned) return capture_forbids(st, "cudaMemcpyAsync with pageable host memory");
    return record_node(st, "copy", [=](cudaStream_t ls) { copy_on(d, s, n, k, ls, false); });
  }
  if (logging())
    log_line("MEMCPY %s %zu %s%s", dd && sd ? "DtoD" : dd ? "HtoD" : sd ? "DtoH" : "HtoH", n, sync ? "sync" : "async",
             !host_side ? "" : pinned ? " pinned" : " pageable");
  if (dd) stream_access(st, d, sync ? "cudaMemcpy(dst)" : "cudaMemcpyAsync(dst)");
  if (sd) stream_access(st, s, sync ? "cudaMemcpy(src)" : "cudaMemcpyAsync(src)");
  if (!sync && pinned) {
    PinnedCopy c{sd, static_cast<char*>(sd ? d : const_cast<void*>(s)),
                 std::vector<char>(static_cast<const char*>(s), static_cast<const char*>(s) + n), st, next_seq()};
    if (sd) std::memset(d, 0xff, n);  // not there yet
    else std::memmove(d, s, n);
    std::lock_guard<std::mutex> l(g_pin_mu);
    g_pin_pending.push_back(std::move(c));
    return cudaSuccess;
  }
  if (!(dry_run() && dd && sd)) std::memmove(d, s, n);
  // A device-to-host copy into pageable memory returns only when it is done,
  // asynchronous or not: the host waits for the stream (for cudaMemcpy, the
  // legacy stream's work).
  if (sd && !dd) {
    note_host_sync(sync ? "memcpy" : "pageable-copy");
    sync_stream(sync ? nullptr : st);
  }
  return cudaSuccess;
}
cudaError_t memset_on(void* d, int v, size_t n, cudaStream_t st) {
  if (n && capturing(st)) {
    if (!is_device_range(d, n)) return record(cudaErrorInvalidValue);
    return record_node(st, "memset", [=](cudaStream_t ls) { memset_on(d, v, n, ls); });
  }
  if (logging() && n) log_line("MEMSET %zu", n);
  cudaError_t e = memset_dev(d, v, n);
  if (e == cudaSuccess && n) stream_access(st, d, "cudaMemset");
  return e;
}
cudaError_t memset_dev(void* d, int v, size_t n) {
  if (n == 0) return cudaSuccess;
  if (!is_device_range(d, n)) {
    std::fprintf(stderr, "EMU: cudaMemset on a non-device range (%zu bytes)\n", n);
    return record(cudaErrorInvalidValue);
  }
  if (dry_run()) return cudaSuccess;
  std::memset(d, v, n);
  return cudaSuccess;
}
void check_kernel_ptr(const char* name, int arg, const void* p) {
  if (!is_device_range(p, 0)) {
    std::fprintf(stderr, "EMU FAULT: kernel %s argument %d (%p) is not inside a cudaMalloc allocation\n", name, arg, p);
    std::abort();
  }
}

// ------------------------------------------------ stream capture and graphs
struct GraphNode {
  const char* what;  // "kernel", "copy", "memset"
  std::function<void(cudaStream_t)> run;
};
}  // namespace emu
struct CUgraph_st { std::vector<emu::GraphNode> nodes; };
struct CUgraphExec_st { std::vector<emu::GraphNode> nodes; };
namespace emu {
struct Capture {
  cudaStreamCaptureMode mode;
  CUgraph_st* graph;
  bool invalid;
};
static std::map<cudaStream_t, Capture> g_captures;
static uint64_t g_graph_launches = 0;
bool capturing(cudaStream_t s) { return s != nullptr && g_captures.count(s) != 0; }
cudaError_t capture_status(cudaStream_t s, cudaStreamCaptureStatus* st) {
  if (!valid_stream(s) || !st) return record(cudaErrorInvalidValue);
  auto it = g_captures.find(s);
  *st = s == nullptr || it == g_captures.end() ? cudaStreamCaptureStatusNone
        : it->second.invalid                    ? cudaStreamCaptureStatusInvalidated
                                                : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
cudaError_t record_node(cudaStream_t s, const char* what, std::function<void(cudaStream_t)> run) {
  Capture& c = g_captures.at(s);
  if (c.invalid) return record(cudaErrorStreamCaptureInvalidated);
  c.graph->nodes.push_back(GraphNode{what, std::move(run)});
  return cudaSuccess;
}
cudaError_t capture_forbids(cudaStream_t s, const char* what) {
  bool hit = false;
  for (auto& [cs, c] : g_captures) {
    if (cs == s || (s == nullptr && c.mode != cudaStreamCaptureModeRelaxed)) {
      if (!c.invalid)
        std::fprintf(stderr, "EMU: %s during the capture of stream %p: not allowed, the capture is invalidated\n",
                     what, (void*)cs);
      c.invalid = true;
      hit = true;
    }
  }
  return hit ? record(cudaErrorStreamCaptureUnsupported) : cudaSuccess;
}
cudaError_t begin_capture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (s == nullptr) return record(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot be captured
  if (!valid_stream(s)) return record(cudaErrorInvalidResourceHandle);
  if (capturing(s)) return record(cudaErrorIllegalState);
  g_captures[s] = Capture{mode, new CUgraph_st(), false};
  return cudaSuccess;
}
cudaError_t end_capture(cudaStream_t s, cudaGraph_t* g) {
  if (!g) return record(cudaErrorInvalidValue);
  auto it = g_captures.find(s);
  if (s == nullptr || it == g_captures.end()) return record(cudaErrorIllegalState);
  Capture c = it->second;
  g_captures.erase(it);
  *g = nullptr;
  if (c.invalid) {
    delete c.graph;
    return record(cudaErrorStreamCaptureInvalidated);
  }
  *g = c.graph;
  return cudaSuccess;
}
cudaError_t graph_instantiate(cudaGraphExec_t* e, cudaGraph_t g) {
  if (!e || !g) return record(cudaErrorInvalidValue);
  *e = new CUgraphExec_st{g->nodes};
  return cudaSuccess;
}
cudaError_t graph_launch(cudaGraphExec_t e, cudaStream_t s) {
  if (!e) return record(cudaErrorInvalidValue);
  if (!valid_stream(s)) return record(cudaErrorInvalidResourceHandle);
  // A graph launched into a capture becomes a child graph on a GPU: not emulated.
  if (capturing(s)) return capture_forbids(s, "cudaGraphLaunch");
  ++g_graph_launches;
  if (logging()) log_line("GRAPH nodes %zu", e->nodes.size());
  g_in_graph = true;
  for (const GraphNode& n : e->nodes) n.run(s);
  g_in_graph = false;
  return cudaSuccess;
}
cudaError_t graph_destroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t graph_exec_destroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}
uint64_t graph_launches() { return g_graph_launches; }

// A kernel name that outlives its launch (the stream-order checker keeps it).
static const char* intern(const std::string& s) {
  static std::set<std::string> names;
  return names.insert(s).first->c_str();
}
void launch_kernel(cudaStream_t st, KernelLaunch k) {
  if (capturing(st)) {
    auto kp = std::make_shared<const KernelLaunch>(std::move(k));
    const cudaError_t e = record_node(st, "kernel", [kp](cudaStream_t ls) { launch_kernel(ls, *kp); });
    if (e != cudaSuccess) record(e);
    return;
  }
  const char* name = intern(k.name);
  if (logging())
    log_line("KERNEL %s grid %u %u %u block %u %u %u smem %zu args%s", name, k.grid.x, k.grid.y, k.grid.z,
             k.block.x, k.block.y, k.block.z, k.smem, k.args.c_str());
  for (size_t i = 0; i < k.ptrs.size(); ++i) {
    check_kernel_ptr(name, int(i), k.ptrs[i]);  // a replay after the buffer was freed faults
    stream_access(st, k.ptrs[i], name);
  }
  run_grid(name, k.fkey, k.grid, k.block, k.smem, k.max_threads, k.body);
}

// -------------------------------------------------------- device / streams
static std::map<cudaStream_t, unsigned> g_streams;  // stream -> flags
cudaStream_t new_stream(unsigned flags) {
  cudaStream_t s = reinterpret_cast<cudaStream_t>(new char[1]);
  g_streams[s] = flags;
  return s;
}
void sync_stream(cudaStream_t s);
cudaError_t destroy_stream(cudaStream_t s) {
  if (!g_streams.count(s)) return record(cudaErrorInvalidResourceHandle);
  sync_stream(s);
  g_streams.erase(s);
  delete[] reinterpret_cast<char*>(s);
  return cudaSuccess;
}

// Stream-order race detector. Kernels run synchronously here, so work that a
// GPU could run concurrently or out of order is checked instead: per device
// allocation, the streams with not-yet-synchronised accesses (kernels: every
// pointer argument counts as read+write; copies; memsets). An access from
// stream X to an allocation with a pending access from stream Y != X that
// nothing orders (legacy default stream <-> blocking streams are implicitly
// ordered; non-blocking streams are not) is reported as EMU RACE
// (EMU_STRICT=1: abort). Sync points: cudaStreamSynchronize, cudaDeviceSynchronize,
// cudaFree (implicit device sync), synchronous D2H cudaMemcpy (legacy stream).
static bool blocking(cudaStream_t s) {
  if (s == nullptr) return true;
  auto it = g_streams.find(s);
  return it == g_streams.end() || !(it->second & cudaStreamNonBlocking);
}
static bool ordered(cudaStream_t x, cudaStream_t y) {  // is y's earlier work ordered before x's op?
  if (x == y) return true;
  if (x == nullptr && blocking(y)) return true;
  if (y == nullptr && blocking(x)) return true;
  return false;
}
static uintptr_t alloc_of(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return 0;
  --it;
  return a <= it->first + it->second ? it->first : 0;
}
void stream_access(cudaStream_t st, const void* p, const char* op) {
  std::lock_guard<std::mutex> l(g_mem_mu);
  const uintptr_t a = alloc_of(p);
  if (!a) return;
  auto& pend = g_pending[a];
  for (auto it = pend.begin(); it != pend.end();) {
    const cudaStream_t y = it->first;
    const char* yop = it->second;
    if (ordered(st, y)) { ++it; continue; }
    it = pend.erase(it);  // reported once
    ++g_races;
    if (g_races <= 20)
      std::fprintf(stderr, "EMU RACE: %s on stream %p uses allocation %#lx (%zu bytes) with unsynchronised work "
                   "from stream %p (%s)\n", op, (void*)st, (unsigned long)a, g_allocs[a], (void*)y, yop);
    if (std::getenv("EMU_STRICT")) std::abort();
  }
  if (st == nullptr)  // a legacy-stream op completes after every blocking stream's earlier work
    for (auto it = pend.begin(); it != pend.end();) it = blocking(it->first) ? pend.erase(it) : std::next(it);
  pend[st] = op;
}
void sync_stream(cudaStream_t s) {
  complete_pinned(false, s, UINT64_MAX);
  std::lock_guard<std::mutex> l(g_mem_mu);
  for (auto& [a, pend] : g_pending) {
    for (auto it = pend.begin(); it != pend.end();)
      it = (it->first == s || (s == nullptr && blocking(it->first))) ? pend.erase(it) : std::next(it);
  }
}
void sync_device() {
  complete_pinned(true, nullptr, 0);
  std::lock_guard<std::mutex> l(g_mem_mu);
  g_pending.clear();
}
uint64_t race_count() { return g_races; }
bool valid_stream(cudaStream_t s) { return s == nullptr || g_streams.count(s) != 0; }
cudaError_t set_device(int d) { return d == 0 ? cudaSuccess : record(cudaErrorInvalidDevice); }
cudaError_t device_props(cudaDeviceProp* p, int d) {
  if (d != 0) return record(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof(*p));
  std::snprintf(p->name, sizeof(p->name), "emulated");
  p->totalGlobalMem = total_mem();
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = size_t(smem_optin());
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024; p->maxThreadsDim[1] = 1024; p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 0x7fffffff; p->maxGridSize[1] = 65535; p->maxGridSize[2] = 65535;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = 233472;
  return cudaSuccess;
}
const char* error_name(cudaError_t e) {
  switch (e) {
#define N(x) case x: return #x;
    N(cudaSuccess) N(cudaErrorInvalidValue) N(cudaErrorMemoryAllocation) N(cudaErrorInitializationError)
    N(cudaErrorInvalidConfiguration) N(cudaErrorInvalidDevicePointer) N(cudaErrorInvalidMemcpyDirection)
    N(cudaErrorInsufficientDriver) N(cudaErrorNoDevice) N(cudaErrorInvalidDevice) N(cudaErrorInvalidResourceHandle)
    N(cudaErrorIllegalAddress) N(cudaErrorLaunchOutOfResources) N(cudaErrorLaunchFailure) N(cudaErrorSystemDriverMismatch)
    N(cudaErrorIllegalState) N(cudaErrorStreamCaptureUnsupported) N(cudaErrorStreamCaptureInvalidated)
    N(cudaErrorCapturedEvent)
#undef N
  }
  return "cudaErrorUnknown";
}
const char* error_string(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    default: return "emulated CUDA error";
  }
}

int smem_optin() {
  const char* e = std::getenv("EMU_SMEM_OPTIN");
  const long v = e ? std::strtol(e, nullptr, 10) : 0;
  return v > 0 ? int(v) : 101376;
}
static std::map<const void*, int> g_smem_attr;
cudaError_t set_func_smem(const void* f, int b) {
  if (cudaError_t e = capture_forbids(nullptr, "cudaFuncSetAttribute"); e != cudaSuccess) return e;
  g_smem_attr[f] = b;
  return cudaSuccess;
}
int func_smem(const void* f) {
  auto it = g_smem_attr.find(f);
  return it == g_smem_attr.end() ? 48 * 1024 : it->second;
}

// ------------------------------------------------------------------ fibers
enum State { kReady, kBlockBar, kWarpBar, kDone };
constexpr size_t kStack = size_t(1) << 18;
struct Fiber {
#ifdef EMU_UCONTEXT
  ucontext_t ctx;
#else
  void* sp = nullptr;
#endif
  char* stack = nullptr;
  State st = kReady;
};
static std::vector<Fiber> g_f;
#ifdef EMU_UCONTEXT
static ucontext_t g_sched;
#else
static void* g_sched_sp = nullptr;
#endif
static int g_cur = -1, g_n = 0;
static float* g_smem = nullptr;
static size_t g_smem_cap = 0;
static int g_bar_or_acc = 0, g_bar_or_res = 0;
static std::vector<double> g_slots;  // 32 per warp
static std::vector<uint64_t> g_xchg;  // 8 per lane (64 bytes)
static const std::function<void()>* g_body = nullptr;
static uint64_t g_launches = 0;
static const char* g_kernel = "";
static std::unordered_set<void*> g_poisoned;

float* dyn_smem() { return g_smem; }
void* warp_slot(int lane) { return &g_slots[size_t((g_cur / 32) * 32 + lane)]; }
void* warp_xchg(int lane) { return &g_xchg[size_t((g_cur / 32) * 32 + lane) * 8]; }

// cp.async, per thread (fiber): copies not yet committed, then committed
// groups oldest first. A copy's source is read at issue (global memory does
// not change under a running kernel here) and its destination holds 0xFF
// garbage until a wait lands it; a GPU lands it at some point before the
// wait, so a kernel correct here is correct there.
struct AsyncCopy {
  unsigned char* dst;
  unsigned char data[16];
  int bytes;
};
struct AsyncState {
  std::vector<AsyncCopy> open;
  std::vector<std::vector<AsyncCopy>> groups;
};
static std::vector<AsyncState> g_async;
void cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  if (g_cur < 0) fault("cp.async outside a kernel");
  if (bytes != 4 && bytes != 8 && bytes != 16) fault("cp.async of %d bytes (PTX: 4, 8 or 16)", bytes);
  if (reinterpret_cast<uintptr_t>(dst) % unsigned(bytes) || reinterpret_cast<uintptr_t>(src) % unsigned(bytes))
    fault("kernel %s: cp.async of %d bytes with a misaligned address (dst %p, src %p)", g_kernel, bytes, dst, src);
  if (src_bytes < 0 || src_bytes > bytes) fault("cp.async src-size %d outside [0, %d]", src_bytes, bytes);
  if (src_bytes > 0 && !is_device_range(src, size_t(src_bytes)))
    fault("kernel %s: cp.async reads %d bytes at %p, outside every cudaMalloc allocation", g_kernel, src_bytes, src);
  AsyncCopy c;
  c.dst = static_cast<unsigned char*>(dst);
  c.bytes = bytes;
  std::memset(c.data, 0, sizeof(c.data));
  std::memcpy(c.data, src, size_t(src_bytes));
  std::memset(dst, 0xff, size_t(bytes));
  g_async[size_t(g_cur)].open.push_back(c);
}
void cp_async_commit() {
  if (g_cur < 0) fault("cp.async.commit_group outside a kernel");
  AsyncState& a = g_async[size_t(g_cur)];
  a.groups.push_back(std::move(a.open));
  a.open.clear();
}
void cp_async_wait(int pending) {
  if (g_cur < 0) fault("cp.async.wait_group outside a kernel");
  AsyncState& a = g_async[size_t(g_cur)];
  const size_t keep = size_t(std::max(pending, 0));
  if (a.groups.size() <= keep) return;
  const size_t land = a.groups.size() - keep;
  for (size_t i = 0; i < land; ++i)
    for (const AsyncCopy& c : a.groups[i]) std::memcpy(c.dst, c.data, size_t(c.bytes));
  a.groups.erase(a.groups.begin(), a.groups.begin() + std::ptrdiff_t(land));
}
int lane_id() { return g_cur % 32; }
void poison_shared(void* p, size_t n) {
  if (g_poisoned.insert(p).second) std::memset(p, 0xff, n);
}

static void yield_to_sched() {
#ifdef EMU_UCONTEXT
  swapcontext(&g_f[size_t(g_cur)].ctx, &g_sched);
#else
  emu_switch(&g_f[size_t(g_cur)].sp, g_sched_sp);
#endif
}
void block_barrier() {
  if (g_cur < 0) fault("__syncthreads outside a kernel");
  g_f[size_t(g_cur)].st = kBlockBar;
  yield_to_sched();
}
int block_barrier_or(int v) {
  if (v) g_bar_or_acc = 1;
  block_barrier();
  return g_bar_or_res;
}
void warp_barrier() {
  if (g_cur < 0) fault("warp op outside a kernel");
  g_f[size_t(g_cur)].st = kWarpBar;
  yield_to_sched();
}

static void fiber_entry() {
  (*g_body)();
  g_f[size_t(g_cur)].st = kDone;
  yield_to_sched();
  fault("finished fiber resumed");
}

static int order_mode() {
  static int m = -1;
  if (m < 0) {
    const char* e = std::getenv("EMU_ORDER");
    std::string s = e ? e : "rand";
    m = s == "fwd" ? 0 : s == "rev" ? 1 : 2;
  }
  return m;
}

static void init_fiber(Fiber& f) {
  if (!f.stack) {
    void* m = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) fault("mmap fiber stack");
    f.stack = static_cast<char*>(m);
  }
#ifdef EMU_UCONTEXT
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = kStack;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, fiber_entry, 0);
#else
  uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + kStack) & ~uintptr_t(15);
  uint64_t* s = reinterpret_cast<uint64_t*>(top - 72);
  const uint32_t mxcsr = 0x1f80;
  const uint16_t fpcw = 0x037f;
  s[0] = 0;
  std::memcpy(&s[0], &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(&s[0]) + 4, &fpcw, 2);
  for (int i = 1; i <= 6; ++i) s[i] = 0;                 // r15 r14 r13 r12 rbx rbp
  s[7] = reinterpret_cast<uint64_t>(&fiber_entry);       // return address
  s[8] = 0;                                               // fake return address of fiber_entry
  f.sp = s;
#endif
  f.st = kReady;
}

static void resume(int t) {
#ifdef EMU_UCONTEXT
  swapcontext(&g_sched, &g_f[size_t(t)].ctx);
#else
  emu_switch(&g_sched_sp, g_f[size_t(t)].sp);
#endif
}

static void run_block(const std::function<void()>& body) {
  g_body = &body;
  g_poisoned.clear();
  g_async.assign(size_t(g_n), AsyncState());  // copies never waited for do not outlive their block
  for (int t = 0; t < g_n; ++t) init_fiber(g_f[size_t(t)]);
  static std::mt19937 rng(12345);
  static std::vector<int> order;
  static std::vector<char> stalled;
  order.resize(size_t(g_n));
  for (int t = 0; t < g_n; ++t) order[size_t(t)] = t;
  const int mode = order_mode();
  int done = 0;
  const unsigned bx = blockDim.x, bxy = blockDim.x * blockDim.y;
  while (done < g_n) {
    if (mode == 1) std::reverse(order.begin(), order.end());
    if (mode == 2) std::shuffle(order.begin(), order.end(), rng);
    bool progress = false;
    // rand: each sweep stalls a random half of the warps, so warps drift apart by
    // several warp-level steps between block barriers (inter-warp races show up).
    if (mode == 2) {
      const int nw = (g_n + 31) / 32;
      stalled.assign(size_t(nw), 0);
      bool any_runnable = false;
      for (int w = 0; w < nw; ++w) {
        stalled[size_t(w)] = char(rng() & 1);
        if (!stalled[size_t(w)])
          for (int l = w * 32; l < std::min(g_n, w * 32 + 32) && !any_runnable; ++l)
            any_runnable = g_f[size_t(l)].st == kReady;
      }
      if (!any_runnable) std::fill(stalled.begin(), stalled.end(), 0);
    }
    for (int t : order) {
      if (g_f[size_t(t)].st != kReady) continue;
      if (mode == 2 && stalled[size_t(t / 32)]) continue;
      g_cur = t;
      threadIdx = uint3{unsigned(t) % bx, (unsigned(t) / bx) % blockDim.y, unsigned(t) / bxy};
      resume(t);
      progress = true;
      if (g_f[size_t(t)].st == kDone) ++done;
    }
    g_cur = -1;
    // Release warps whose live lanes all wait at a warp barrier.
    for (int w = 0; w * 32 < g_n; ++w) {
      int waiting = 0, live = 0;
      const int lo = w * 32, hi = std::min(g_n, w * 32 + 32);
      for (int l = lo; l < hi; ++l) {
        if (g_f[size_t(l)].st != kDone) ++live;
        if (g_f[size_t(l)].st == kWarpBar) ++waiting;
      }
      if (live > 0 && waiting == live) {
        if (live != hi - lo) fault("kernel %s: warp barrier/shuffle/wmma with exited lanes (launch %llu)", g_kernel,
                                   (unsigned long long)g_launches);
        for (int l = lo; l < hi; ++l) g_f[size_t(l)].st = kReady;
        progress = true;
      }
    }
    // Release the block barrier when every live thread waits at it.
    int bwait = 0;
    for (int t = 0; t < g_n; ++t) bwait += g_f[size_t(t)].st == kBlockBar;
    if (bwait > 0 && bwait == g_n - done) {
      if (done != 0) fault("kernel %s: __syncthreads after some threads exited", g_kernel);
      g_bar_or_res = g_bar_or_acc;
      g_bar_or_acc = 0;
      for (int t = 0; t < g_n; ++t) g_f[size_t(t)].st = kReady;
      progress = true;
    }
    bool any_ready = false;
    for (int t = 0; t < g_n && !any_ready; ++t) any_ready = g_f[size_t(t)].st == kReady;
    if (!progress && !any_ready && done < g_n)
      fault("kernel %s: deadlock (mixed barriers: some lanes at __syncthreads, some at a warp op) in launch %llu",
            g_kernel, (unsigned long long)g_launches);
  }
}

static std::mutex g_run_mu;
static bool trace() {
  static int t = std::getenv("EMU_TRACE") ? 1 : 0;
  return t;
}
void run_grid(const char* name, const void* fkey, dim3 grid, dim3 block, size_t smem, int max_threads,
              const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(g_run_mu);
  ++g_launches;
  const uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
  if (nthreads == 0 || nthreads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || grid.x == 0 ||
      grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 0x7fffffffu) {
    std::fprintf(stderr, "EMU: %s: invalid configuration grid (%u,%u,%u) block (%u,%u,%u)\n", name, grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    record(cudaErrorInvalidConfiguration);
    return;
  }
  if (max_threads > 0 && nthreads > uint64_t(max_threads)) {
    std::fprintf(stderr, "EMU: %s: %llu threads above __launch_bounds__ %d\n", name, (unsigned long long)nthreads,
                 max_threads);
    record(cudaErrorLaunchOutOfResources);
    return;
  }
  if (smem > size_t(func_smem(fkey))) {
    std::fprintf(stderr, "EMU: %s: launch with %zu bytes dynamic smem above the attribute %d\n", name, smem,
                 func_smem(fkey));
    record(cudaErrorInvalidValue);
    return;
  }
  if (trace()) std::fprintf(stderr, "EMU launch %llu %s grid (%u,%u,%u) block (%u,%u,%u) smem %zu\n",
                            (unsigned long long)g_launches, name, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
  if (dry_run()) return;
  g_kernel = name;
  g_n = int(nthreads);
  if (g_f.size() < size_t(g_n)) g_f.resize(size_t(g_n));
  g_slots.assign(size_t((g_n + 31) / 32 * 32), 0.0);
  g_xchg.assign(size_t((g_n + 31) / 32 * 32) * 8, 0);
  blockDim = block;
  gridDim = grid;
  const size_t nf = (smem + 3) / 4;
  // Blocks run one at a time, in grid order (x fastest) unless
  // EMU_BLOCK_ORDER (read at each launch, so a test can switch it) is rev or
  // rand: a kernel whose result depends on which block runs last (a
  // last-block reduction that trusts blockIdx) shows it then.
  const char* bo = std::getenv("EMU_BLOCK_ORDER");
  const std::string border = bo ? bo : "fwd";
  const uint64_t nblocks = uint64_t(grid.x) * grid.y * grid.z;
  std::vector<uint64_t> blocks(nblocks);
  for (uint64_t b = 0; b < nblocks; ++b) blocks[b] = b;
  if (border == "rev") std::reverse(blocks.begin(), blocks.end());
  if (border == "rand") {
    static std::mt19937_64 block_rng(20251204);
    std::shuffle(blocks.begin(), blocks.end(), block_rng);
  }
  for (uint64_t b : blocks) {
    blockIdx = uint3{unsigned(b % grid.x), unsigned(b / grid.x % grid.y), unsigned(b / grid.x / grid.y)};
    // Fresh dynamic smem full of NaN garbage each block (exact size: ASan sees overflow).
    if (g_smem_cap != nf || std::getenv("EMU_ASAN_SMEM")) {
      delete[] g_smem;
      g_smem = new float[nf ? nf : 1];
      g_smem_cap = nf;
    }
    std::memset(g_smem, 0xff, nf * 4);
    run_block(body);
  }
}
}  // namespace emu
