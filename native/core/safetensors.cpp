#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace electra {

namespace {

// ------------------------------------------------------------------ minimal JSON

// Enough JSON for safetensors headers: objects, arrays, strings (all escapes, \u with
// surrogate pairs), integers, true/false/null. Fractions and exponents are rejected: no
// header field is a non-integer number.
struct JVal {
  enum Kind { kNull, kBool, kInt, kStr, kArr, kObj };
  Kind kind = kNull;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<JVal> arr;
  std::vector<std::pair<std::string, JVal>> obj;  // in file order
};

const char* kind_name(JVal::Kind k) {
  switch (k) {
    case JVal::kNull: return "null";
    case JVal::kBool: return "a boolean";
    case JVal::kInt: return "an integer";
    case JVal::kStr: return "a string";
    case JVal::kArr: return "an array";
    case JVal::kObj: return "an object";
  }
  return "?";
}

class JsonParser {
 public:
  JsonParser(const char* p, size_t n) : begin_(p), p_(p), end_(p + n) {}

  // Parses one value filling the whole input (surrounding whitespace allowed).
  bool parse_document(JVal* out) {
    skip_ws();
    if (!parse_value(out, 0)) return false;
    skip_ws();
    if (p_ != end_) return fail("unexpected trailing characters");
    return true;
  }
  const std::string& error() const { return err_; }

 private:
  static constexpr int kMaxDepth = 64;

  bool fail(const std::string& what) {
    if (err_.empty()) err_ = what + " at header byte " + std::to_string(p_ - begin_);
    return false;
  }
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (size_t(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("invalid literal");
    p_ += n;
    return true;
  }

  bool parse_value(JVal* v, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    if (p_ >= end_) return fail("unexpected end of header");
    char c = *p_;
    if (c == '{') return parse_object(v, depth);
    if (c == '[') return parse_array(v, depth);
    if (c == '"') {
      v->kind = JVal::kStr;
      return parse_string(&v->s);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_int(v);
    if (c == 't') {
      v->kind = JVal::kBool;
      v->b = true;
      return literal("true");
    }
    if (c == 'f') {
      v->kind = JVal::kBool;
      v->b = false;
      return literal("false");
    }
    if (c == 'n') {
      v->kind = JVal::kNull;
      return literal("null");
    }
    return fail(std::string("unexpected character '") + (c >= 32 && c < 127 ? std::string(1, c) : "?") + "'");
  }

  bool parse_object(JVal* v, int depth) {
    v->kind = JVal::kObj;
    ++p_;  // '{'
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') return fail("expected a string key");
      std::string key;
      if (!parse_string(&key)) return false;
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      v->obj.emplace_back(std::move(key), JVal());
      if (!parse_value(&v->obj.back().second, depth + 1)) return false;
      skip_ws();
      if (p_ >= end_) return fail("unexpected end of header in an object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool parse_array(JVal* v, int depth) {
    v->kind = JVal::kArr;
    ++p_;  // '['
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      skip_ws();
      v->arr.emplace_back();
      if (!parse_value(&v->arr.back(), depth + 1)) return false;
      skip_ws();
      if (p_ >= end_) return fail("unexpected end of header in an array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  bool parse_int(JVal* v) {
    v->kind = JVal::kInt;
    bool neg = false;
    if (*p_ == '-') {
      neg = true;
      ++p_;
    }
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("invalid number");
    if (*p_ == '0' && p_ + 1 < end_ && p_[1] >= '0' && p_[1] <= '9') return fail("number with a leading zero");
    uint64_t mag = 0;
    const uint64_t limit = neg ? uint64_t(std::numeric_limits<int64_t>::max()) + 1 : uint64_t(std::numeric_limits<int64_t>::max());
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      uint64_t d = uint64_t(*p_ - '0');
      if (mag > (limit - d) / 10) return fail("integer out of range");
      mag = mag * 10 + d;
      ++p_;
    }
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return fail("non-integer number");
    v->i = neg ? (mag == uint64_t(std::numeric_limits<int64_t>::max()) + 1 ? std::numeric_limits<int64_t>::min()
                                                                          : -int64_t(mag))
               : int64_t(mag);
    return true;
  }

  static void put_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(char(cp));
    } else if (cp < 0x800) {
      s->push_back(char(0xC0 | (cp >> 6)));
      s->push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(char(0xE0 | (cp >> 12)));
      s->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(char(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(char(0xF0 | (cp >> 18)));
      s->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(char(0x80 | (cp & 0x3F)));
    }
  }
  bool hex4(uint32_t* out) {
    if (end_ - p_ < 4) return fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = p_[k];
      uint32_t d;
      if (c >= '0' && c <= '9') d = uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f') d = uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = uint32_t(c - 'A' + 10);
      else return fail("invalid \\u escape");
      v = v * 16 + d;
    }
    p_ += 4;
    *out = v;
    return true;
  }

  bool parse_string(std::string* s) {
    ++p_;  // opening quote
    for (;;) {
      if (p_ >= end_) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') {
        s->push_back(char(c));
        ++p_;
        continue;
      }
      ++p_;
      if (p_ >= end_) return fail("unterminated escape");
      char e = *p_++;
      switch (e) {
        case '"': s->push_back('"'); break;
        case '\\': s->push_back('\\'); break;
        case '/': s->push_back('/'); break;
        case 'b': s->push_back('\b'); break;
        case 'f': s->push_back('\f'); break;
        case 'n': s->push_back('\n'); break;
        case 'r': s->push_back('\r'); break;
        case 't': s->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("unpaired surrogate");
            p_ += 2;
            if (!hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");
          }
          put_utf8(s, cp);
          break;
        }
        default: return fail("invalid escape");
      }
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string err_;
};

// JSON string literal for the writer: escapes '"', '\\' and control characters; UTF-8 passes through.
void append_json_string(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"') {
      *out += "\\\"";
    } else if (c == '\\') {
      *out += "\\\\";
    } else if (c < 0x20) {
      char tmp[8];
      std::snprintf(tmp, sizeof tmp, "\\u%04x", unsigned(c));
      *out += tmp;
    } else {
      out->push_back(char(c));
    }
  }
  out->push_back('"');
}

// ------------------------------------------------------------------ helpers

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

Status Corrupt(const std::string& file, const std::string& what) {
  return Status(StatusCode::kCorruptFile, "safetensors file '" + file + "': " + what);
}
Status CorruptT(const std::string& file, const std::string& tensor, const std::string& what) {
  return Status(StatusCode::kCorruptFile, "safetensors file '" + file + "', tensor '" + tensor + "': " + what);
}
Status IoError(const std::string& what) { return Status(StatusCode::kIoError, what); }

std::string errno_text() { return std::strerror(errno); }

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t man = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | man << 13;  // inf / nan (payload kept)
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

// ------------------------------------------------------------------ dtypes

size_t st_dtype_size(const std::string& d) {
  static const std::pair<const char*, size_t> kTable[] = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},     {"I32", 4},     {"I16", 2}, {"I8", 1},
      {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},   {"BOOL", 1},    {"F8_E4M3", 1}, {"F8_E5M2", 1},
  };
  for (const auto& e : kTable)
    if (d == e.first) return e.second;
  return 0;
}

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// ------------------------------------------------------------------ reader

void SafeTensorsFile::clear() {
  path_.clear();
  buf_.clear();
  buf_.shrink_to_fit();
  tensors_.clear();
  index_.clear();
  metadata_.clear();
}

Status SafeTensorsFile::open(const std::string& path) {
  try {
    clear();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open safetensors file '" + path + "': " + errno_text());
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      std::string e = errno_text();
      ::close(fd);
      return IoError("cannot stat safetensors file '" + path + "': " + e);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return IoError("safetensors path '" + path + "' is not a regular file");
    }
    std::vector<uint8_t> bytes;
    try {
      bytes.resize(size_t(st.st_size));
    } catch (const std::bad_alloc&) {
      ::close(fd);
      return OutOfMemory("cannot allocate " + std::to_string(st.st_size) + " bytes for '" + path + "'");
    }
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        std::string e = errno_text();
        ::close(fd);
        return IoError("cannot read safetensors file '" + path + "': " + e);
      }
      if (r == 0) break;  // file shrank while reading: parse what is there
      got += size_t(r);
    }
    ::close(fd);
    bytes.resize(got);
    return open_bytes(std::move(bytes), path);
  } catch (const std::bad_alloc&) {
    clear();
    return OutOfMemory("out of memory reading safetensors file '" + path + "'");
  } catch (...) {
    clear();
    return Internal("unexpected exception reading safetensors file '" + path + "'");
  }
}

Status SafeTensorsFile::open_bytes(std::vector<uint8_t> bytes, const std::string& label) {
  try {
    clear();
    path_ = label;
    buf_ = std::move(bytes);
    Status s = parse();
    if (!s.ok()) clear();
    return s;
  } catch (const std::bad_alloc&) {
    clear();
    return OutOfMemory("out of memory parsing safetensors file '" + label + "'");
  } catch (...) {
    clear();
    return Internal("unexpected exception parsing safetensors file '" + label + "'");
  }
}

Status SafeTensorsFile::parse() {
  const std::string& f = path_;
  if (!host_is_little_endian()) return Internal("safetensors: big-endian hosts are not supported");
  const uint64_t size = buf_.size();
  if (size < 8)
    return Corrupt(f, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | buf_[size_t(k)];
  if (n > size - 8)
    return Corrupt(f, "header length " + std::to_string(n) + " runs past the end of the file (" +
                          std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (n < 2) return Corrupt(f, "header length " + std::to_string(n) + " is too small for a JSON object");
  const char* hdr = reinterpret_cast<const char*>(buf_.data() + 8);
  if (hdr[0] != '{') return Corrupt(f, "malformed JSON header: does not start with '{'");

  JVal root;
  JsonParser jp(hdr, size_t(n));
  if (!jp.parse_document(&root)) return Corrupt(f, "malformed JSON header: " + jp.error());
  if (root.kind != JVal::kObj) return Corrupt(f, "malformed JSON header: not an object");

  const uint8_t* data = buf_.data() + 8 + n;
  const uint64_t data_size = size - 8 - n;
  bool seen_meta = false;
  std::vector<std::pair<uint64_t, uint64_t>> offs;  // per tensor, parallel to tensors_
  for (auto& kv : root.obj) {
    const std::string& name = kv.first;
    JVal& v = kv.second;
    if (name == "__metadata__") {
      if (seen_meta) return Corrupt(f, "duplicate __metadata__");
      seen_meta = true;
      if (v.kind != JVal::kObj) return Corrupt(f, std::string("__metadata__ is ") + kind_name(v.kind) + ", not an object");
      for (auto& m : v.obj) {
        if (m.second.kind != JVal::kStr)
          return Corrupt(f, "__metadata__ entry '" + m.first + "' is " + kind_name(m.second.kind) + ", not a string");
        if (!metadata_.emplace(m.first, std::move(m.second.s)).second)
          return Corrupt(f, "duplicate __metadata__ key '" + m.first + "'");
      }
      continue;
    }
    if (index_.count(name)) return CorruptT(f, name, "duplicate tensor name");
    if (v.kind != JVal::kObj) return CorruptT(f, name, std::string("entry is ") + kind_name(v.kind) + ", not an object");
    const JVal* dtype = nullptr;
    const JVal* shape = nullptr;
    const JVal* off = nullptr;
    for (auto& field : v.obj) {
      const JVal** slot = field.first == "dtype"          ? &dtype
                          : field.first == "shape"        ? &shape
                          : field.first == "data_offsets" ? &off
                                                          : nullptr;
      if (!slot) return CorruptT(f, name, "unexpected field '" + field.first + "'");
      if (*slot) return CorruptT(f, name, "duplicate field '" + field.first + "'");
      *slot = &field.second;
    }
    if (!dtype || !shape || !off) return CorruptT(f, name, "missing dtype, shape or data_offsets");
    if (dtype->kind != JVal::kStr) return CorruptT(f, name, "dtype is not a string");
    size_t esize = st_dtype_size(dtype->s);
    if (esize == 0) return CorruptT(f, name, "unknown dtype '" + dtype->s + "'");
    if (shape->kind != JVal::kArr) return CorruptT(f, name, "shape is not an array");
    StTensor t;
    t.name = name;
    t.dtype = dtype->s;
    bool empty = false;
    for (const JVal& d : shape->arr) {
      if (d.kind != JVal::kInt || d.i < 0) return CorruptT(f, name, "shape holds a non-integer or negative dimension");
      t.shape.push_back(d.i);
      empty |= d.i == 0;
    }
    uint64_t numel = empty ? 0 : 1;
    for (int64_t d : t.shape) {
      if (empty) break;
      if (numel > std::numeric_limits<uint64_t>::max() / esize / uint64_t(d))
        return CorruptT(f, name, "shape " + shape_str(t.shape) + " is too large");
      numel *= uint64_t(d);
    }
    if (off->kind != JVal::kArr || off->arr.size() != 2 || off->arr[0].kind != JVal::kInt ||
        off->arr[1].kind != JVal::kInt || off->arr[0].i < 0 || off->arr[1].i < 0)
      return CorruptT(f, name, "data_offsets is not a pair of non-negative integers");
    uint64_t b = uint64_t(off->arr[0].i), e = uint64_t(off->arr[1].i);
    if (e < b) return CorruptT(f, name, "data_offsets [" + std::to_string(b) + "," + std::to_string(e) + "] end before begin");
    if (e - b != numel * esize)
      return CorruptT(f, name, "data_offsets [" + std::to_string(b) + "," + std::to_string(e) + "] hold " +
                                   std::to_string(e - b) + " bytes but " + t.dtype + " " + shape_str(t.shape) +
                                   " needs " + std::to_string(numel * esize));
    if (e > data_size)
      return CorruptT(f, name, "data_offsets [" + std::to_string(b) + "," + std::to_string(e) +
                                   "] run past the end of the data (" + std::to_string(data_size) +
                                   " bytes): out of range or truncated file");
    t.data = data + b;
    t.nbytes = size_t(e - b);
    index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(t));
    offs.emplace_back(b, e);
  }

  // The tensors must tile the data buffer: sorted by offset, each starts where the last ended.
  std::vector<size_t> order(tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return offs[a].first != offs[b].first ? offs[a].first < offs[b].first : offs[a].second < offs[b].second;
  });
  uint64_t expect = 0;
  std::string prev;
  for (size_t i : order) {
    const std::string& name = tensors_[i].name;
    if (offs[i].first < expect)
      return CorruptT(f, name, "data_offsets [" + std::to_string(offs[i].first) + "," + std::to_string(offs[i].second) +
                                   "] overlap tensor '" + prev + "' (which ends at " + std::to_string(expect) + ")");
    if (offs[i].first > expect)
      return CorruptT(f, name, "data_offsets [" + std::to_string(offs[i].first) + "," + std::to_string(offs[i].second) +
                                   "] leave a gap after byte " + std::to_string(expect));
    expect = offs[i].second;
    prev = name;
  }
  if (expect != data_size)
    return Corrupt(f, "tensors cover " + std::to_string(expect) + " data bytes but the file holds " +
                          std::to_string(data_size) + " (trailing bytes)");

  // Keep tensors_ in data order (the natural file order); rebuild the index.
  std::vector<StTensor> sorted;
  sorted.reserve(tensors_.size());
  for (size_t i : order) sorted.push_back(std::move(tensors_[i]));
  tensors_ = std::move(sorted);
  index_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return Status::Ok();
}

const StTensor* SafeTensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status SafeTensorsFile::read_f32(const std::string& name, std::vector<float>* out) const {
  try {
    const StTensor* t = find(name);
    if (!t) return InvalidArgument("safetensors file '" + path_ + "' has no tensor '" + name + "'");
    const size_t n = size_t(t->numel());
    out->resize(n);
    const uint8_t* p = t->data;
    if (t->dtype == "F32") {
      if (n) std::memcpy(out->data(), p, n * 4);
    } else if (t->dtype == "F64") {
      for (size_t i = 0; i < n; ++i) (*out)[i] = float(load<double>(p + 8 * i));
    } else if (t->dtype == "F16") {
      for (size_t i = 0; i < n; ++i) (*out)[i] = half_to_float(load<uint16_t>(p + 2 * i));
    } else if (t->dtype == "BF16") {
      for (size_t i = 0; i < n; ++i) {
        uint32_t bits = uint32_t(load<uint16_t>(p + 2 * i)) << 16;
        std::memcpy(&(*out)[i], &bits, 4);
      }
    } else {
      out->clear();
      return InvalidArgument("safetensors file '" + path_ + "', tensor '" + name + "': dtype " + t->dtype +
                             " is not a float type (F32, F64, F16, BF16)");
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return OutOfMemory("out of memory reading tensor '" + name + "' from '" + path_ + "'");
  }
}

Status SafeTensorsFile::read_i32(const std::string& name, std::vector<int32_t>* out) const {
  try {
    const StTensor* t = find(name);
    if (!t) return InvalidArgument("safetensors file '" + path_ + "' has no tensor '" + name + "'");
    const size_t n = size_t(t->numel());
    out->resize(n);
    const uint8_t* p = t->data;
    if (t->dtype == "I32") {
      if (n) std::memcpy(out->data(), p, n * 4);
    } else if (t->dtype == "I64") {
      for (size_t i = 0; i < n; ++i) {
        int64_t v = load<int64_t>(p + 8 * i);
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
          out->clear();
          return Status(StatusCode::kCorruptFile, "safetensors file '" + path_ + "', tensor '" + name +
                                                      "': I64 value " + std::to_string(v) + " at index " +
                                                      std::to_string(i) + " does not fit int32");
        }
        (*out)[i] = int32_t(v);
      }
    } else if (t->dtype == "U8") {
      for (size_t i = 0; i < n; ++i) (*out)[i] = int32_t(p[i]);
    } else if (t->dtype == "U16") {
      for (size_t i = 0; i < n; ++i) (*out)[i] = int32_t(load<uint16_t>(p + 2 * i));
    } else {
      out->clear();
      return InvalidArgument("safetensors file '" + path_ + "', tensor '" + name + "': dtype " + t->dtype +
                             " is not an integer type (I32, I64, U8, U16)");
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return OutOfMemory("out of memory reading tensor '" + name + "' from '" + path_ + "'");
  }
}

// ------------------------------------------------------------------ writer

Status serialize_safetensors(const std::vector<StWriteTensor>& tensors,
                             const std::map<std::string, std::string>& metadata, std::vector<uint8_t>* out) {
  try {
    std::vector<const StWriteTensor*> order;
    order.reserve(tensors.size());
    for (const auto& t : tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const StWriteTensor* a, const StWriteTensor* b) { return a->name < b->name; });
    for (size_t i = 0; i < order.size(); ++i) {
      const StWriteTensor& t = *order[i];
      if (t.name.empty() || t.name == "__metadata__") return InvalidArgument("safetensors: invalid tensor name '" + t.name + "'");
      if (i > 0 && order[i - 1]->name == t.name) return InvalidArgument("safetensors: duplicate tensor name '" + t.name + "'");
      size_t es = st_dtype_size(t.dtype);
      if (es == 0) return InvalidArgument("safetensors: tensor '" + t.name + "' has unknown dtype '" + t.dtype + "'");
      uint64_t numel = 1;
      for (int64_t d : t.shape) {
        if (d < 0) return InvalidArgument("safetensors: tensor '" + t.name + "' has a negative dimension");
        if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / uint64_t(d) / es)
          return InvalidArgument("safetensors: tensor '" + t.name + "' is too large");
        numel *= uint64_t(d);
      }
      if (numel * es != t.nbytes)
        return InvalidArgument("safetensors: tensor '" + t.name + "' has " + std::to_string(t.nbytes) + " bytes but " +
                               t.dtype + " " + shape_str(t.shape) + " needs " + std::to_string(numel * es));
      if (t.nbytes && !t.data) return InvalidArgument("safetensors: tensor '" + t.name + "' has no data");
    }

    std::string h = "{";
    bool first = true;
    if (!metadata.empty()) {
      h += "\"__metadata__\":{";
      bool mfirst = true;
      for (const auto& kv : metadata) {
        if (!mfirst) h += ",";
        mfirst = false;
        append_json_string(&h, kv.first);
        h += ":";
        append_json_string(&h, kv.second);
      }
      h += "}";
      first = false;
    }
    uint64_t off = 0;
    for (const StWriteTensor* t : order) {
      if (!first) h += ",";
      first = false;
      append_json_string(&h, t->name);
      h += ":{\"dtype\":";
      append_json_string(&h, t->dtype);
      h += ",\"shape\":" + shape_str(t->shape) + ",\"data_offsets\":[" + std::to_string(off) + "," +
           std::to_string(off + t->nbytes) + "]}";
      off += t->nbytes;
    }
    h += "}";
    while (h.size() % 8 != 0) h += ' ';

    out->clear();
    out->reserve(8 + h.size() + size_t(off));
    uint64_t n = h.size();
    for (int k = 0; k < 8; ++k) out->push_back(uint8_t(n >> (8 * k)));
    out->insert(out->end(), h.begin(), h.end());
    for (const StWriteTensor* t : order) {
      const uint8_t* p = static_cast<const uint8_t*>(t->data);
      if (t->nbytes) out->insert(out->end(), p, p + t->nbytes);
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return OutOfMemory("safetensors: out of memory serializing");
  } catch (...) {
    return Internal("safetensors: unexpected exception serializing");
  }
}

Status write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  try {
    std::vector<uint8_t> bytes;
    ELECTRA_RETURN_IF_ERROR(serialize_safetensors(tensors, metadata, &bytes));
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("cannot create '" + tmp + "': " + errno_text());
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        std::string e = errno_text();
        ::close(fd);
        ::unlink(tmp.c_str());
        return IoError("cannot write '" + tmp + "': " + e);
      }
      done += size_t(w);
    }
    if (::fsync(fd) != 0) {
      std::string e = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot fsync '" + tmp + "': " + e);
    }
    if (::close(fd) != 0) {
      std::string e = errno_text();
      ::unlink(tmp.c_str());
      return IoError("cannot close '" + tmp + "': " + e);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      std::string e = errno_text();
      ::unlink(tmp.c_str());
      return IoError("cannot rename '" + tmp + "' to '" + path + "': " + e);
    }
    // Best effort: make the rename itself durable.
    std::string dir = ".";
    size_t slash = path.find_last_of('/');
    if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return OutOfMemory("safetensors: out of memory writing '" + path + "'");
  } catch (...) {
    return Internal("safetensors: unexpected exception writing '" + path + "'");
  }
}

}  // namespace electra
