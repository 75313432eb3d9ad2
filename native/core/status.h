// Status: how every failure leaves the core. No exceptions cross the core's
// public boundary and nothing here ever calls exit/abort; the addon turns a
// Status into a JS Error whose `code` is status_code_name(code).
#pragma once
#include <string>
#include <utility>

namespace electra {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad shape, size, NaN hyper-parameter, ...
  kOutOfMemory,      // host or device allocation failed
  kNoDevice,         // CUDA asked for but no usable GPU
  kDeviceError,      // a CUDA call failed
  kIoError,          // file could not be read / written
  kCorruptFile,      // file parsed but its content is invalid
  kBusy,             // the object is already running an asynchronous operation
  kInternal,         // a bug: an invariant of the core was broken
  kDiverged,         // training produced a non-finite loss or gradient norm (nothing was updated)
};

// Stable string codes, used as `err.code` in JavaScript.
inline const char* status_code_name(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "ERR_INVALID_ARGUMENT";
    case StatusCode::kOutOfMemory: return "ERR_OUT_OF_MEMORY";
    case StatusCode::kNoDevice: return "ERR_NO_DEVICE";
    case StatusCode::kDeviceError: return "ERR_DEVICE";
    case StatusCode::kIoError: return "ERR_IO";
    case StatusCode::kCorruptFile: return "ERR_CORRUPT_FILE";
    case StatusCode::kBusy: return "ERR_BUSY";
    case StatusCode::kInternal: return "ERR_INTERNAL";
    case StatusCode::kDiverged: return "ERR_DIVERGED";
  }
  return "ERR_INTERNAL";
}

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return msg_; }
  const char* code_name() const { return status_code_name(code_); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string msg_;
};

inline Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status OutOfMemory(std::string m) { return Status(StatusCode::kOutOfMemory, std::move(m)); }
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

}  // namespace electra

// Propagate a non-ok Status to the caller.
#define ELECTRA_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::electra::Status _st = (expr);              \
    if (!_st.ok()) return _st;                   \
  } while (0)
