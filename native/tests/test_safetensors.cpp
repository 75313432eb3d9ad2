// safetensors reader/writer: round trip, the committed golden file, every corruption case
// (kCorruptFile / kIoError naming the file and tensor), and random damage never crashing.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "test_util.h"

using electra::SafeTensorsFile;
using electra::Status;
using electra::StatusCode;
using electra::StTensor;
using electra::StWriteTensor;

namespace {

bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

// A fresh private directory per test program run, removed (with its files) at exit.
struct TmpDir {
  std::string path;
  TmpDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/electra_st_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* d = mkdtemp(buf.data());
    path = d ? d : "";
  }
  ~TmpDir() {
    if (path.empty()) return;
    if (DIR* d = opendir(path.c_str())) {
      while (struct dirent* e = readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          ::unlink((path + "/" + e->d_name).c_str());
      closedir(d);
    }
    ::rmdir(path.c_str());
  }
};
const std::string& tmp_dir() {
  static TmpDir dir;
  CHECK(!dir.path.empty()) << "mkdtemp failed";
  return dir.path;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  if (!b.empty()) std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}
std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A file from a raw header string and a data buffer (header length computed here).
std::vector<uint8_t> raw_file(const std::string& header, size_t data_bytes) {
  const size_t n = header.size();
  std::vector<uint8_t> b(8 + n + data_bytes);
  for (int k = 0; k < 8; ++k) b[k] = uint8_t(uint64_t(n) >> (8 * k));
  for (size_t i = 0; i < n; ++i) b[8 + i] = uint8_t(header[i]);
  for (size_t i = 0; i < data_bytes; ++i) b[8 + n + i] = uint8_t(i * 37 + 11);
  return b;
}

// Opens bytes through a real file (the path must appear in messages).
Status open_file_bytes(const std::string& stem, const std::vector<uint8_t>& bytes, SafeTensorsFile* f,
                       std::string* path_out = nullptr) {
  std::string path = tmp_dir() + "/" + stem + ".safetensors";
  write_bytes(path, bytes);
  if (path_out) *path_out = path;
  return f->open(path);
}

// Checks a corruption case: kCorruptFile, message naming the file and (if given) the tensor.
void expect_corrupt(const std::string& stem, const std::vector<uint8_t>& bytes, const std::string& tensor,
                    const std::string& what = "") {
  SafeTensorsFile f;
  std::string path;
  Status s = open_file_bytes(stem, bytes, &f, &path);
  CHECK(s.code() == StatusCode::kCorruptFile) << stem << ": got " << s.code_name() << " " << s.message();
  CHECK(has(s.message(), path)) << stem << ": message does not name the file: " << s.message();
  if (!tensor.empty()) CHECK(has(s.message(), "'" + tensor + "'")) << stem << ": message does not name tensor " << tensor << ": " << s.message();
  if (!what.empty()) CHECK(has(s.message(), what)) << stem << ": message lacks '" << what << "': " << s.message();
  CHECK(f.tensors().empty() && f.metadata().empty()) << stem << ": failed open left state behind";
}

// A small valid file with a few dtypes.
struct Sample {
  std::vector<float> a{1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, -7.0f};  // F32 [2,3]
  std::vector<double> b{0.1, -1e10, 3.25};                          // F64 [3]
  std::vector<int32_t> c{-5, 7, 2147483647, -2147483647 - 1};       // I32 [2,2]
  std::vector<int64_t> d{1, -2, 3};                                 // I64 [3]
  std::vector<uint16_t> h{0x3C00, 0xC000, 0x0001, 0x7C00, 0x3555};  // F16 [5]: 1, -2, min subnormal, inf, ~1/3
  std::vector<uint16_t> bf{0x3F80, 0xC0A0, 0x0000};                 // BF16 [3]: 1, -5, 0
  std::vector<uint8_t> u8{0, 255, 17};                              // U8 [3]
  std::vector<uint16_t> u16{65535, 1};                              // U16 [2]
  std::vector<StWriteTensor> tensors() const {
    return {
        {"w.a", "F32", {2, 3}, a.data(), a.size() * 4},       {"b", "F64", {3}, b.data(), b.size() * 8},
        {"ints", "I32", {2, 2}, c.data(), c.size() * 4},      {"longs", "I64", {3}, d.data(), d.size() * 8},
        {"half", "F16", {5}, h.data(), h.size() * 2},         {"bf", "BF16", {3}, bf.data(), bf.size() * 2},
        {"bytes", "U8", {3}, u8.data(), u8.size()},           {"shorts", "U16", {2}, u16.data(), u16.size() * 2},
        {"empty", "F32", {0, 4}, nullptr, 0},                 {"scalar", "F32", {}, a.data(), 4},
        {"we\"ird\\name\n\xc3\xa9", "F32", {1}, a.data() + 2, 4},
    };
  }
  std::map<std::string, std::string> meta() const {
    return {{"format", "pt"}, {"config", "{\"a\": [1, 2], \"s\": \"x\\\"y\"}"}, {"tab\there", "\xe2\x82\xac"}};
  }
};

std::vector<uint8_t> sample_bytes() {
  Sample s;
  std::vector<uint8_t> out;
  Status st = electra::serialize_safetensors(s.tensors(), s.meta(), &out);
  CHECK(st.ok()) << st.message();
  return out;
}

std::string golden_path() {
  std::vector<std::string> cands;
  if (const char* e = std::getenv("ELECTRA_GOLDEN_DIR")) cands.push_back(std::string(e) + "/electra_tiny_step.safetensors");
#ifdef ELECTRA_SOURCE_DIR
  cands.push_back(std::string(ELECTRA_SOURCE_DIR) + "/test/golden/electra_tiny_step.safetensors");
#endif
  for (const char* up : {"", "../", "../../", "../../../"})
    cands.push_back(std::string(up) + "test/golden/electra_tiny_step.safetensors");
  for (auto& c : cands) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0) return c;
  }
  return "";
}

}  // namespace

TEST(safetensors_round_trip) {
  Sample s;
  std::string path = tmp_dir() + "/round.safetensors";
  Status st = electra::write_safetensors(path, s.tensors(), s.meta());
  CHECK(st.ok()) << st.message();
  struct stat sb;
  CHECK(::stat((path + ".tmp").c_str(), &sb) != 0) << "temporary file left behind";

  SafeTensorsFile f;
  st = f.open(path);
  CHECK(st.ok()) << st.message();
  CHECK(f.metadata() == s.meta()) << "metadata differs";
  CHECK(f.tensors().size() == s.tensors().size());
  for (const auto& w : s.tensors()) {
    const StTensor* t = f.find(w.name);
    CHECK(t) << "missing " << w.name;
    if (!t) continue;
    CHECK(t->dtype == w.dtype && t->shape == w.shape && t->nbytes == w.nbytes) << w.name;
    CHECK(w.nbytes == 0 || std::memcmp(t->data, w.data, w.nbytes) == 0) << w.name << " bytes differ";
  }
  // Layout: header length is a multiple of 8; data in name order.
  std::vector<uint8_t> bytes = read_bytes(path);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = n << 8 | bytes[k];
  CHECK(n % 8 == 0) << n;
  CHECK(bytes == sample_bytes()) << "file differs from serialize_safetensors";
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + n);
  CHECK(header.rfind("{\"__metadata__\":", 0) == 0) << header.substr(0, 40);
  CHECK(header.find("\"b\"") < header.find("\"bf\"") && header.find("\"bf\"") < header.find("\"w.a\""));
  for (size_t i = 1; i < f.tensors().size(); ++i)  // tensors() is in data order: it must be name order
    CHECK(f.tensors()[i - 1].name < f.tensors()[i].name) << "data not in name order at " << f.tensors()[i].name;

  // Conversions.
  std::vector<float> v;
  CHECK(f.read_f32("w.a", &v).ok() && v == s.a);
  CHECK(f.read_f32("b", &v).ok() && v.size() == 3 && v[0] == 0.1f && v[1] == -1e10f && v[2] == 3.25f);
  CHECK(f.read_f32("half", &v).ok() && v.size() == 5);
  CHECK(v[0] == 1.0f && v[1] == -2.0f && v[2] == std::ldexp(1.0f, -24) && std::isinf(v[3]) && std::fabs(v[4] - 1.0f / 3) < 1e-3f)
      << v[0] << " " << v[1] << " " << v[2] << " " << v[3] << " " << v[4];
  CHECK(f.read_f32("bf", &v).ok() && v == std::vector<float>({1.0f, -5.0f, 0.0f}));
  CHECK(f.read_f32("empty", &v).ok() && v.empty());
  CHECK(f.read_f32("scalar", &v).ok() && v.size() == 1 && v[0] == s.a[0]);
  CHECK(f.read_f32("we\"ird\\name\n\xc3\xa9", &v).ok() && v.size() == 1 && v[0] == 3.0f);
  std::vector<int32_t> iv;
  CHECK(f.read_i32("ints", &iv).ok() && iv == s.c);
  CHECK(f.read_i32("longs", &iv).ok() && iv == std::vector<int32_t>({1, -2, 3}));
  CHECK(f.read_i32("bytes", &iv).ok() && iv == std::vector<int32_t>({0, 255, 17}));
  CHECK(f.read_i32("shorts", &iv).ok() && iv == std::vector<int32_t>({65535, 1}));
  // Wrong type / absent: kInvalidArgument naming file and tensor.
  st = f.read_f32("ints", &v);
  CHECK(st.code() == StatusCode::kInvalidArgument && has(st.message(), path) && has(st.message(), "'ints'")) << st.message();
  st = f.read_i32("w.a", &iv);
  CHECK(st.code() == StatusCode::kInvalidArgument && has(st.message(), "'w.a'")) << st.message();
  st = f.read_f32("nope", &v);
  CHECK(st.code() == StatusCode::kInvalidArgument && has(st.message(), "'nope'")) << st.message();

  // I64 out of int32 range.
  std::vector<int64_t> big{1, int64_t(1) << 40};
  std::string p2 = tmp_dir() + "/big.safetensors";
  CHECK(electra::write_safetensors(p2, {{"big", "I64", {2}, big.data(), 16}}, {}).ok());
  SafeTensorsFile g;
  CHECK(g.open(p2).ok());
  st = g.read_i32("big", &iv);
  CHECK(st.code() == StatusCode::kCorruptFile && has(st.message(), "'big'")) << st.message();
  // No metadata: no __metadata__ key at all.
  std::vector<uint8_t> b2 = read_bytes(p2);
  CHECK(!has(std::string(b2.begin(), b2.end()), "__metadata__"));

  // Overwriting an existing file works (rename over it); a move keeps pointers valid.
  CHECK(electra::write_safetensors(path, {{"x", "F32", {1}, s.a.data(), 4}}, {}).ok());
  SafeTensorsFile h;
  CHECK(h.open(path).ok() && h.tensors().size() == 1);
  SafeTensorsFile moved = std::move(h);
  CHECK(moved.read_f32("x", &v).ok() && v.size() == 1 && v[0] == s.a[0]);
}

TEST(safetensors_writer_rejects_bad_input) {
  float x[4] = {1, 2, 3, 4};
  std::vector<uint8_t> out;
  auto code = [&](std::vector<StWriteTensor> t) { return electra::serialize_safetensors(t, {}, &out).code(); };
  CHECK(code({{"a", "F32", {2}, x, 12}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"a", "Q8", {2}, x, 8}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"a", "F32", {2}, x, 8}, {"a", "F32", {2}, x, 8}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"", "F32", {2}, x, 8}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"__metadata__", "F32", {2}, x, 8}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"a", "F32", {-1}, x, 0}}) == StatusCode::kInvalidArgument);
  CHECK(code({{"a", "F32", {2}, nullptr, 8}}) == StatusCode::kInvalidArgument);
  Status s = electra::write_safetensors(tmp_dir() + "/no/such/dir/x.safetensors", {{"a", "F32", {1}, x, 4}}, {});
  CHECK(s.code() == StatusCode::kIoError && has(s.message(), "no/such/dir")) << s.message();
}

TEST(safetensors_golden_file) {
  std::string path = golden_path();
  CHECK(!path.empty()) << "test/golden/electra_tiny_step.safetensors not found (run from the repo root, or set "
                          "ELECTRA_GOLDEN_DIR); it is committed, so this is a failure";
  if (path.empty()) return;
  SafeTensorsFile f;
  Status st = f.open(path);
  CHECK(st.ok()) << st.message();
  if (!st.ok()) return;
  CHECK(f.tensors().size() == 426) << f.tensors().size();
  CHECK(has(f.metadata().at("config"), "\"vocab_size\": 64")) << f.metadata().at("config");
  CHECK(f.metadata().count("optimizer") && f.metadata().count("param_names"));

  auto shape_is = [&](const std::string& n, const std::string& dtype, std::vector<int64_t> shape) {
    const StTensor* t = f.find(n);
    CHECK(t && t->dtype == dtype && t->shape == shape) << n;
  };
  shape_is("param/electra.embeddings.word_embeddings.weight", "F32", {64, 16});
  shape_is("grad/electra.embeddings_project.weight", "F32", {32, 16});
  shape_is("param3/generator.encoder.layer.1.intermediate.dense.weight", "F32", {96, 24});
  shape_is("m3/discriminator_predictions.dense_prediction.weight", "F32", {1, 32});
  shape_is("v3/discriminator_predictions.dense_prediction.bias", "F32", {1});
  shape_is("param/generator_lm_head.bias", "F32", {64});
  shape_is("input_ids", "I32", {3, 12});
  shape_is("gen_logits", "F32", {7, 64});
  shape_is("disc_logits", "F32", {3, 12});
  CHECK(!f.find("param/generator_lm_head.weight")) << "tied LM head weight must not be stored";

  std::vector<int32_t> ids, mask, pos;
  CHECK(f.read_i32("input_ids", &ids).ok() && ids.size() == 36 && ids[0] == 2 && ids[12] == 2 && ids[24] == 2);
  CHECK(f.read_i32("attention_mask", &mask).ok());
  int real = 0;
  for (int32_t m : mask) real += m;
  CHECK(real == 12 + 8 + 10) << real;
  CHECK(f.read_i32("masked_positions", &pos).ok() && !pos.empty());
  for (size_t i = 1; i < pos.size(); ++i) CHECK(pos[i - 1] < pos[i]) << "masked_positions not sorted/unique";

  std::vector<float> lr, g, d, t;
  CHECK(f.read_f32("lr", &lr).ok() && lr.size() == 3);
  CHECK(lr[0] == 0.0f && std::fabs(lr[1] - 4.5e-4f) < 1e-9f && std::fabs(lr[2] - 8e-4f) < 1e-9f);
  CHECK(f.read_f32("gen_loss", &g).ok() && f.read_f32("disc_loss", &d).ok() && f.read_f32("total_loss", &t).ok());
  CHECK(std::fabs(t[0] - (g[0] + 50 * d[0])) < 1e-5f * t[0]) << t[0] << " " << g[0] << " " << d[0];

  // The HF save_pretrained files (written by the Python safetensors library, which orders data
  // by dtype, then name) hold the same initial weights under plain HF names.
  std::string dir = path.substr(0, path.size() - std::string("electra_tiny_step.safetensors").size());
  SafeTensorsFile disc, gen;
  st = disc.open(dir + "electra_tiny_hf/discriminator/model.safetensors");
  CHECK(st.ok()) << st.message();
  st = gen.open(dir + "electra_tiny_hf/generator/model.safetensors");
  CHECK(st.ok()) << st.message();
  int compared = 0;
  for (const SafeTensorsFile* hf : {&disc, &gen}) {
    for (const StTensor& ht : hf->tensors()) {
      std::string n = ht.name;
      if (hf == &gen && n.rfind("electra.", 0) == 0 && n.rfind("electra.embeddings.", 0) != 0)
        n = "generator." + n.substr(8);
      const StTensor* gt = f.find("param/" + n);
      CHECK(gt) << "golden lacks param/" << n;
      if (!gt) continue;
      CHECK(gt->shape == ht.shape && gt->nbytes == ht.nbytes && std::memcmp(gt->data, ht.data, ht.nbytes) == 0) << n;
      ++compared;
    }
  }
  CHECK(compared > 80) << compared;
}

TEST(safetensors_corrupt_files) {
  // Missing file: kIoError naming the path.
  {
    SafeTensorsFile f;
    std::string p = tmp_dir() + "/does_not_exist.safetensors";
    Status s = f.open(p);
    CHECK(s.code() == StatusCode::kIoError && has(s.message(), p)) << s.code_name() << " " << s.message();
    s = f.open(tmp_dir());  // a directory
    CHECK(s.code() == StatusCode::kIoError) << s.code_name() << " " << s.message();
  }
  const std::string ok_hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
  {  // sanity: the base case opens
    SafeTensorsFile f;
    Status s = open_file_bytes("base", raw_file(ok_hdr, 16), &f);
    CHECK(s.ok()) << s.message();
  }
  // Truncated below 8 bytes, empty file.
  expect_corrupt("tiny", {1, 0, 0}, "", "truncated");
  expect_corrupt("empty", {}, "", "truncated");
  // Header length past end of file.
  {
    auto b = raw_file(ok_hdr, 16);
    b[0] = 0xff;
    b[1] = 0xff;
    expect_corrupt("hdrlen", b, "", "past the end");
    auto c = raw_file(ok_hdr, 16);
    for (int k = 0; k < 8; ++k) c[k] = 0xff;  // 2^64-1: no overflow in the check
    expect_corrupt("hdrlen_max", c, "", "past the end");
  }
  // Malformed JSON.
  expect_corrupt("json1", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}", 16), "", "malformed JSON");
  expect_corrupt("json2", raw_file("[1,2,3]", 0), "", "malformed JSON");
  expect_corrupt("json3", raw_file("{\"w\" {}}", 0), "", "malformed JSON");
  expect_corrupt("json4", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16), "", "malformed JSON");
  expect_corrupt("json5", raw_file("{\"w\\q\":1}", 0), "", "malformed JSON");
  expect_corrupt("json6", raw_file("{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}", 0), "", "too deep");
  expect_corrupt("json7", raw_file("{}garbage", 0), "", "malformed JSON");
  expect_corrupt("json8", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,16]}}", 16), "", "out of range");
  // Metadata must be a string map.
  expect_corrupt("meta1", raw_file("{\"__metadata__\":{\"k\":1}}", 0), "", "__metadata__");
  expect_corrupt("meta2", raw_file("{\"__metadata__\":[]}", 0), "", "__metadata__");
  // Unknown dtype, naming the tensor.
  expect_corrupt("dtype", raw_file("{\"w\":{\"dtype\":\"Q7\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16), "w", "unknown dtype");
  // Entry problems naming the tensor.
  expect_corrupt("entry1", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2]}}", 16), "w", "missing");
  expect_corrupt("entry2", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,2],\"data_offsets\":[0,16]}}", 16), "w", "negative");
  expect_corrupt("entry3", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}}", 16), "w");
  expect_corrupt("entry4", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"x\":1}}", 16), "w", "unexpected field");
  expect_corrupt("entry5", raw_file("{\"w\":3}", 0), "w");
  expect_corrupt("dup", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                 "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "w", "duplicate");
  expect_corrupt("huge", raw_file("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16), "w", "too large");
  // Size does not match shape * dtype.
  expect_corrupt("size", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12), "w", "needs 16");
  // Offsets out of range.
  expect_corrupt("range", raw_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[100,116]}}", 16), "w", "past the end of the data");
  // Overlap.
  expect_corrupt("overlap", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                     "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24), "b", "overlap");
  // Gap, and trailing bytes.
  expect_corrupt("gap", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "a", "gap");
  expect_corrupt("trailing", raw_file(ok_hdr, 20), "", "trailing");
  // Truncated file: a valid file missing its last bytes names the tensor that is cut.
  {
    std::vector<uint8_t> b = sample_bytes();
    SafeTensorsFile ref;
    CHECK(ref.open_bytes(b, "mem").ok());
    const StTensor& last = ref.tensors().back();
    std::string last_name = last.name;
    b.resize(b.size() - 2);
    expect_corrupt("truncated", b, last_name, "truncated");
  }
}

TEST(safetensors_random_damage_never_crashes) {
  const std::vector<uint8_t> good = sample_bytes();
  std::mt19937_64 rng(42);
  int ok = 0, corrupt = 0, other = 0;
  std::vector<float> fv;
  std::vector<int32_t> iv;
  for (int it = 0; it < 4000; ++it) {
    std::vector<uint8_t> b = good;
    int kind = int(rng() % 4);
    if (kind == 0) {  // truncate anywhere
      b.resize(size_t(rng() % (b.size() + 1)));
    } else if (kind == 1) {  // flip 1-4 random bits
      int flips = 1 + int(rng() % 4);
      for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= uint8_t(1u << (rng() % 8));
    } else if (kind == 2) {  // random bytes in the header
      uint64_t n = 0;
      for (int k = 7; k >= 0; --k) n = n << 8 | b[k];
      size_t lim = size_t(std::min<uint64_t>(n + 8, b.size()));
      int hits = 1 + int(rng() % 3);
      for (int k = 0; k < hits; ++k) b[rng() % lim] = uint8_t(rng());
    } else {  // printable-character substitution in the header (keeps the JSON mostly well-formed)
      static const char kChars[] = "0123456789[]{},:\"\\ -eE.uF";
      uint64_t n = 0;
      for (int k = 7; k >= 0; --k) n = n << 8 | b[k];
      size_t lim = size_t(std::min<uint64_t>(n + 8, b.size()));
      b[8 + rng() % (lim - 8)] = uint8_t(kChars[rng() % (sizeof kChars - 1)]);
    }
    SafeTensorsFile f;
    Status s = (it % 50 == 0) ? open_file_bytes("fuzz", b, &f) : f.open_bytes(b, "fuzz");
    if (s.ok()) {
      ++ok;
      // Everything a valid-looking file offers must be readable without going out of bounds.
      for (const StTensor& t : f.tensors()) {
        Status r1 = f.read_f32(t.name, &fv);
        Status r2 = f.read_i32(t.name, &iv);
        CHECK(r1.ok() || r2.ok() || (t.dtype != "F32" && t.dtype != "I32")) << t.name << " " << t.dtype;
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < t.nbytes; ++i) sink = sink ^ t.data[i];
      }
    } else if (s.code() == StatusCode::kCorruptFile) {
      ++corrupt;
      CHECK(has(s.message(), "fuzz")) << s.message();
    } else {
      ++other;
      CHECK(false) << "unexpected status " << s.code_name() << " " << s.message();
    }
  }
  CHECK(corrupt > 1000 && ok > 10) << "ok " << ok << " corrupt " << corrupt << " other " << other;
}
