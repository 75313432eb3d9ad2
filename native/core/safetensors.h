// A small, strict safetensors reader and writer (https://github.com/huggingface/safetensors).
// No dependencies; no exception leaves these functions (allocation failure is kOutOfMemory).
//
// File layout: 8-byte little-endian header length N, N bytes of JSON header, then the data
// buffer. The header maps tensor name -> {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data buffer) plus an optional "__metadata__" string -> string map.
//
// The reader is as strict as the reference library: tensors must tile the data buffer exactly
// (no overlap, no gap, nothing left over), and every size must equal numel * dtype size.
// Failures: kIoError when the file can't be read, kCorruptFile (message names the file and,
// where there is one, the tensor) when its content is invalid.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "status.h"

namespace electra {

struct StTensor {
  std::string name;
  std::string dtype;            // "F32", "F64", "F16", "BF16", "I32", "I64", "U8", "U16", ...
  std::vector<int64_t> shape;   // row-major; {} is a scalar
  const uint8_t* data = nullptr;  // into the file's buffer; valid while the SafeTensorsFile lives
  size_t nbytes = 0;
  int64_t numel() const;
};

// Bytes per element for a safetensors dtype string; 0 when unknown. Known: F64 F32 F16 BF16
// I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2.
size_t st_dtype_size(const std::string& dtype);

class SafeTensorsFile {
 public:
  SafeTensorsFile() = default;
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;
  SafeTensorsFile(SafeTensorsFile&&) = default;
  SafeTensorsFile& operator=(SafeTensorsFile&&) = default;

  // Reads the whole file into memory and validates it. On failure the object is empty.
  Status open(const std::string& path);
  // The same, from bytes already in memory; `label` stands for the file name in messages.
  Status open_bytes(std::vector<uint8_t> bytes, const std::string& label);

  const std::string& path() const { return path_; }
  // nullptr when absent.
  const StTensor* find(const std::string& name) const;
  // In data-offset order.
  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies a tensor out as float32, converting F64 / F16 / BF16. kInvalidArgument when the
  // tensor is absent or not a float type (the message names the file and tensor).
  Status read_f32(const std::string& name, std::vector<float>* out) const;
  // Copies a tensor out as int32, converting I64 / U8 / U16 (a value outside int32 range is
  // kCorruptFile). kInvalidArgument when absent or not an integer type.
  Status read_i32(const std::string& name, std::vector<int32_t>* out) const;

 private:
  Status parse();
  void clear();
  std::string path_;
  std::vector<uint8_t> buf_;
  std::vector<StTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct StWriteTensor {
  std::string name;
  std::string dtype;           // as in StTensor
  std::vector<int64_t> shape;
  const void* data = nullptr;  // nbytes must equal numel * dtype size
  size_t nbytes = 0;
};

// Writes `path` atomically: to path + ".tmp", fsync, rename over `path`. Header padded with
// spaces to a multiple of 8; tensors (header entries and data) in name order, "__metadata__"
// first (omitted when empty). kInvalidArgument for a bad tensor list, kIoError when writing fails.
Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                         const std::map<std::string, std::string>& metadata);

// The same bytes, in memory (for tests and for callers that stream elsewhere).
Status serialize_safetensors(const std::vector<StWriteTensor>& tensors,
                             const std::map<std::string, std::string>& metadata, std::vector<uint8_t>* out);

}  // namespace electra
