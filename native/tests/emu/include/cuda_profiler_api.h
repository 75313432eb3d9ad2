// Emulated profiler range (cudaProfilerStart/Stop): a mark in the launch log,
// so the report can cut one training step out of a run.
#pragma once
#include "cuda_runtime.h"

inline cudaError_t cudaProfilerStart() {
  if (emu::logging()) emu::log_line("MARK start");
  return cudaSuccess;
}
inline cudaError_t cudaProfilerStop() {
  if (emu::logging()) emu::log_line("MARK stop");
  return cudaSuccess;
}
