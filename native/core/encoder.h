// One BERT-style post-LayerNorm transformer encoder (the generator's or the
// discriminator's), run over all B*S positions on a Backend. Owns its
// activations (in the backend's memory) for the backward; weights live in the
// shared parameter buffer and are addressed by offsets from the ParamTable.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "model_config.h"
#include "params.h"

namespace electra {

// Offsets (in floats) of one layer's tensors in the parameter/gradient buffers.
struct LayerOffsets {
  int64_t wq, bq, wk, bk, wv, bv;   // attention.self.{query,key,value}: [H,H], [H]
  int64_t wao, bao, ln1g, ln1b;     // attention.output.dense [H,H], LayerNorm [H]
  int64_t wi, bi;                   // intermediate.dense [F,H], [F]
  int64_t wo, bo, ln2g, ln2b;       // output.dense [H,F], LayerNorm [H]
};

// Adds one encoder's tensors to the table with HF names under `prefix`
// ("electra" or "generator"): <prefix>.embeddings_project.* when E != H, then
// <prefix>.encoder.layer.<i>.*.
Status add_encoder_params(ParamTable* t, const std::string& prefix, const EncoderConfig& c, int64_t E);

// Per-layer saved activations, each [N, *] with N = B*S.
struct LayerActs {
  BackendBuffer<float> q, k, v;     // [N,H] (empty when q16, k16, v16 are used)
  BackendBuffer<uint16_t> q16, k16, v16;  // [N,H] as bf16 bits (Backend::attention_qkv_bf16), or empty
  BackendBuffer<float> probs;       // [B,A,S,S], or [B,A,S] (Backend::attention_saved_floats)
  BackendBuffer<float> ctx;         // [N,H]
  BackendBuffer<float> r1;          // [N,H] dropout(attn out) + input (LayerNorm 1 input)
  BackendBuffer<float> mean1, rstd1;  // [N]
  BackendBuffer<float> h1;          // [N,H]
  BackendBuffer<float> f, g;        // [N,F] pre- and post-GELU (g empty when g16 is used)
  BackendBuffer<uint16_t> g16;      // [N,F] post-GELU as bf16 bits (Backend::ffn_gelu_bf16), or empty
  BackendBuffer<float> r2;          // [N,H] dropout(ffn out) + h1 (LayerNorm 2 input)
  BackendBuffer<float> mean2, rstd2;  // [N]
  BackendBuffer<float> out;         // [N,H]
};

class Encoder {
 public:
  // Resolves offsets from the table; call after add_encoder_params.
  Status bind(const ParamTable& t, const std::string& prefix, const EncoderConfig& c, int64_t E);
  // Sizes activations in be's memory for B sequences of S tokens (reallocates
  // only when the shape changes).
  Status resize(Backend* be, int64_t B, int64_t S);

  // emb[N,E] (the shared embedding output) -> *out = the final hidden [N,H].
  // rng_offset: first Philox offset this encoder may use; it uses 3 per layer.
  Status forward(const float* params, const float* emb, const int32_t* mask, float eps, float hidden_p,
                 float attn_p, uint64_t seed, uint64_t rng_offset, const float** out);
  // dout[N,H] (gradient of the final hidden, consumed/clobbered) -> accumulates
  // parameter gradients into grads, and WRITES demb[N,E] (no zeroing needed).
  Status backward(const float* params, float* grads, float* dout, float* demb, const float* emb,
                  const int32_t* mask, float hidden_p, float attn_p, uint64_t seed, uint64_t rng_offset);

  int64_t hidden() const { return c_.hidden; }
  static constexpr uint64_t kRngPerLayer = 3;

 private:
  EncoderConfig c_;
  Backend* be_ = nullptr;
  int64_t E_ = 0, B_ = 0, S_ = 0;
  bool project_ = false;
  bool g16_ = false;  // the FFN's GELU output kept as bf16 (Backend::ffn_gelu_bf16)
  bool qkv16_ = false;  // the attention's q, k, v kept as bf16 (Backend::attention_qkv_bf16)
  int64_t proj_w_ = -1, proj_b_ = -1;
  std::vector<LayerOffsets> layers_;
  BackendBuffer<float> h0_;       // [N,H] projected embeddings (or unused when E == H)
  std::vector<LayerActs> acts_;
  // backward scratch
  BackendBuffer<float> dh_, dq_, dk_, dv_, dctx_, dtmp_, dff_;
};

}  // namespace electra
