#include "encoder.h"


namespace electra {

// Shorthand for the backend's op calls, which all return a Status.
#define TRY ELECTRA_RETURN_IF_ERROR

Status add_encoder_params(ParamTable* t, const std::string& prefix, const EncoderConfig& c, int64_t E) {
  const int64_t H = c.hidden, F = c.intermediate;
  if (E != H) {
    ELECTRA_RETURN_IF_ERROR(t->add(prefix + ".embeddings_project.weight", {H, E}, true));
    ELECTRA_RETURN_IF_ERROR(t->add(prefix + ".embeddings_project.bias", {H}, false));
  }
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = prefix + ".encoder.layer." + std::to_string(l) + ".";
    for (const char* n : {"query", "key", "value"}) {
      ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.self." + n + ".weight", {H, H}, true));
      ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.self." + n + ".bias", {H}, false));
    }
    ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.output.dense.weight", {H, H}, true));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.output.dense.bias", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.output.LayerNorm.weight", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "attention.output.LayerNorm.bias", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "intermediate.dense.weight", {F, H}, true));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "intermediate.dense.bias", {F}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "output.dense.weight", {H, F}, true));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "output.dense.bias", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "output.LayerNorm.weight", {H}, false));
    ELECTRA_RETURN_IF_ERROR(t->add(p + "output.LayerNorm.bias", {H}, false));
  }
  return Status::Ok();
}

static Status offset_of(const ParamTable& t, const std::string& name, int64_t* off) {
  const TensorSpec* s = t.find(name);
  if (!s) return Internal("parameter table has no tensor " + name);
  *off = s->offset;
  return Status::Ok();
}

Status Encoder::bind(const ParamTable& t, const std::string& prefix, const EncoderConfig& c, int64_t E) {
  c_ = c;
  E_ = E;
  project_ = E != c.hidden;
  if (project_) {
    ELECTRA_RETURN_IF_ERROR(offset_of(t, prefix + ".embeddings_project.weight", &proj_w_));
    ELECTRA_RETURN_IF_ERROR(offset_of(t, prefix + ".embeddings_project.bias", &proj_b_));
  }
  layers_.assign(c.layers, LayerOffsets{});
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = prefix + ".encoder.layer." + std::to_string(l) + ".";
    LayerOffsets& o = layers_[l];
    struct { const char* n; int64_t* o; } map[] = {
        {"attention.self.query.weight", &o.wq}, {"attention.self.query.bias", &o.bq},
        {"attention.self.key.weight", &o.wk},   {"attention.self.key.bias", &o.bk},
        {"attention.self.value.weight", &o.wv}, {"attention.self.value.bias", &o.bv},
        {"attention.output.dense.weight", &o.wao}, {"attention.output.dense.bias", &o.bao},
        {"attention.output.LayerNorm.weight", &o.ln1g}, {"attention.output.LayerNorm.bias", &o.ln1b},
        {"intermediate.dense.weight", &o.wi}, {"intermediate.dense.bias", &o.bi},
        {"output.dense.weight", &o.wo}, {"output.dense.bias", &o.bo},
        {"output.LayerNorm.weight", &o.ln2g}, {"output.LayerNorm.bias", &o.ln2b},
    };
    for (auto& m : map) ELECTRA_RETURN_IF_ERROR(offset_of(t, p + m.n, m.o));
  }
  acts_.clear();
  acts_.resize(static_cast<size_t>(c.layers));
  B_ = S_ = 0;
  return Status::Ok();
}

Status Encoder::resize(Backend* be, int64_t B, int64_t S) {
  if (be == be_ && B == B_ && S == S_) return Status::Ok();
  be_ = be;
  B_ = B;
  S_ = S;
  const size_t N = B * S, H = c_.hidden, F = c_.intermediate, A = c_.heads;
  // The attention state saved for the backward: the probabilities [B,A,S,S],
  // or one float per query row [B,A,S] where the backend recomputes them.
  const size_t saved = size_t(be->attention_saved_floats(B, S, int64_t(A), int64_t(H / A)));
  g16_ = be->ffn_gelu_bf16(int64_t(H), int64_t(F));
  qkv16_ = be->attention_qkv_bf16(S, int64_t(A), int64_t(H / A));
  TRY(h0_.resize(be, project_ ? N * H : 0));
  for (auto& a : acts_) {
    for (auto* b : {&a.q, &a.k, &a.v}) TRY(b->resize(be, qkv16_ ? 0 : N * H));
    for (auto* b : {&a.q16, &a.k16, &a.v16}) TRY(b->resize(be, qkv16_ ? N * H : 0));
    for (auto* b : {&a.ctx, &a.r1, &a.h1, &a.r2, &a.out}) TRY(b->resize(be, N * H));
    for (auto* b : {&a.mean1, &a.rstd1, &a.mean2, &a.rstd2}) TRY(b->resize(be, N));
    TRY(a.probs.resize(be, saved));
    TRY(a.f.resize(be, N * F));
    TRY(a.g.resize(be, g16_ ? 0 : N * F));
    TRY(a.g16.resize(be, g16_ ? N * F : 0));
  }
  for (auto* b : {&dh_, &dq_, &dk_, &dv_, &dctx_, &dtmp_}) TRY(b->resize(be, N * H));
  TRY(dff_.resize(be, N * F));
  return Status::Ok();
}

Status Encoder::forward(const float* P, const float* emb, const int32_t* mask, float eps, float hidden_p,
                        float attn_p, uint64_t seed, uint64_t off, const float** out) {
  Backend& be = *be_;
  const int64_t N = B_ * S_, H = c_.hidden, F = c_.intermediate, A = c_.heads, hd = H / A;
  const float* x = emb;  // [N,H]
  if (project_) {
    TRY(be.linear_forward(h0_.data(), emb, P + proj_w_, P + proj_b_, N, E_, H));
    x = h0_.data();
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerOffsets& o = layers_[l];
    LayerActs& a = acts_[l];
    const uint64_t lo = off + l * kRngPerLayer;
    {
      const float* const w[3] = {P + o.wq, P + o.wk, P + o.wv};
      const float* const b[3] = {P + o.bq, P + o.bk, P + o.bv};
      if (qkv16_) {
        uint16_t* const qkv[3] = {a.q16.data(), a.k16.data(), a.v16.data()};
        TRY(be.linear_forward3_bf16(qkv, x, w, b, N, H, H));
      } else {
        float* const qkv[3] = {a.q.data(), a.k.data(), a.v.data()};
        TRY(be.linear_forward3(qkv, x, w, b, N, H, H));
      }
    }
    if (qkv16_)
      TRY(be.attention_forward_bf16(a.ctx.data(), a.probs.data(), a.q16.data(), a.k16.data(), a.v16.data(), H, mask,
                                    B_, S_, A, hd, attn_p, seed, lo + 0));
    else
      TRY(be.attention_forward(a.ctx.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(), H, mask, B_, S_, A,
                               hd, attn_p, seed, lo + 0));
    // r1 = dropout(ctx @ Wao^T + b) + x; h1 = LayerNorm(r1)
    TRY(be.linear_dropout_residual_layernorm_forward(a.r1.data(), a.h1.data(), a.mean1.data(), a.rstd1.data(),
                                                     a.ctx.data(), P + o.wao, P + o.bao, x, P + o.ln1g, P + o.ln1b, N,
                                                     H, H, eps, hidden_p, seed, lo + 1));
    // r2 = dropout(g @ Wo^T + b) + h1; out = LayerNorm(r2)
    if (g16_) {
      TRY(be.linear_gelu_forward_bf16(a.f.data(), a.g16.data(), a.h1.data(), P + o.wi, P + o.bi, N, H, F));
      TRY(be.linear_dropout_residual_layernorm_forward_bf16(a.r2.data(), a.out.data(), a.mean2.data(),
                                                            a.rstd2.data(), a.g16.data(), P + o.wo, P + o.bo,
                                                            a.h1.data(), P + o.ln2g, P + o.ln2b, N, F, H, eps,
                                                            hidden_p, seed, lo + 2));
    } else {
      TRY(be.linear_gelu_forward(a.f.data(), a.g.data(), a.h1.data(), P + o.wi, P + o.bi, N, H, F));
      TRY(be.linear_dropout_residual_layernorm_forward(a.r2.data(), a.out.data(), a.mean2.data(), a.rstd2.data(),
                                                       a.g.data(), P + o.wo, P + o.bo, a.h1.data(), P + o.ln2g,
                                                       P + o.ln2b, N, F, H, eps, hidden_p, seed, lo + 2));
    }
    x = a.out.data();
  }
  *out = x;
  return Status::Ok();
}

Status Encoder::backward(const float* P, float* G, float* dout, float* demb, const float* emb, const int32_t* mask,
                         float hidden_p, float attn_p, uint64_t seed, uint64_t off) {
  Backend& be = *be_;
  const int64_t N = B_ * S_, H = c_.hidden, F = c_.intermediate, A = c_.heads, hd = H / A;
  const size_t NHb = sizeof(float) * static_cast<size_t>(N * H);
  float* dx = dout;  // gradient w.r.t. the current layer's output; [N,H]
  for (int64_t l = static_cast<int64_t>(layers_.size()) - 1; l >= 0; --l) {
    const LayerOffsets& o = layers_[l];
    LayerActs& a = acts_[l];
    const uint64_t lo = off + l * kRngPerLayer;
    const float* x = l == 0 ? (project_ ? h0_.data() : emb) : acts_[l - 1].out.data();
    // LayerNorm 2 -> dr2, written straight into dh_ (dh1 = dr2 via the
    // residual + the FFN branch's input gradient, added below); the same op
    // writes the dropout backward of dr2 (the FFN branch's output gradient)
    // into dtmp_. No zeroing, no copy.
    TRY(be.layernorm_backward_write(dh_.data(), dtmp_.data(), G + o.ln2g, G + o.ln2b, dx, a.r2.data(), P + o.ln2g,
                                    a.mean2.data(), a.rstd2.data(), N, H, hidden_p, seed, lo + 2));
    // dff = gelu'(f) * (dr2 @ Wo), then dh1 += dff @ Wi; the two weight
    // gradients together below (Wo's from dr2 in dtmp_ and g, Wi's from dff and h1).
    // (Its input g is not read: no weight gradient here.)
    TRY(be.linear_backward_gelu_write(dff_.data(), nullptr, nullptr, dtmp_.data(), g16_ ? nullptr : a.g.data(),
                                      P + o.wo, a.f.data(), N, F, H));
    TRY(be.linear_backward(dh_.data(), nullptr, nullptr, dff_.data(), a.h1.data(), P + o.wi, N, H, F));
    {
      float* const dw[2] = {G + o.wo, G + o.wi};
      float* const db[2] = {G + o.bo, G + o.bi};
      const float* const d[2] = {dtmp_.data(), dff_.data()};
      if (g16_) {
        TRY(be.linear_backward_weights_pair_bf16(dw, db, d, a.g16.data(), a.h1.data(), N, F, H));
      } else {
        const float* const in[2] = {a.g.data(), a.h1.data()};
        TRY(be.linear_backward_weights_pair(dw, db, d, in, N, F, H));
      }
    }
    // LayerNorm 1 -> dr1, written into dx: the layer output's gradient was
    // consumed by LayerNorm 2, and dx becomes the layer input's gradient
    // (dr1 via the residual + the q/k/v projections' input gradients, added
    // below). Its dropout backward (the attention output's gradient) -> dtmp_.
    TRY(be.layernorm_backward_write(dx, dtmp_.data(), G + o.ln1g, G + o.ln1b, dh_.data(), a.r1.data(), P + o.ln1g,
                                    a.mean1.data(), a.rstd1.data(), N, H, hidden_p, seed, lo + 1));
    // The attention output projection's input gradient; its weight gradient
    // is taken with the q/k/v ones below (dtmp_ and ctx are not written before).
    TRY(be.linear_backward_write(dctx_.data(), nullptr, nullptr, dtmp_.data(), a.ctx.data(), P + o.wao, N, H, H));
    // Writes dq_, dk_, dv_ (no zeroing).
    if (qkv16_)
      TRY(be.attention_backward_write_bf16(dq_.data(), dk_.data(), dv_.data(), dctx_.data(), a.ctx.data(),
                                           a.probs.data(), a.q16.data(), a.k16.data(), a.v16.data(), H, mask, B_, S_,
                                           A, hd, attn_p, seed, lo + 0));
    else
      TRY(be.attention_backward_write(dq_.data(), dk_.data(), dv_.data(), dctx_.data(), a.ctx.data(), a.probs.data(),
                                      a.q.data(), a.k.data(), a.v.data(), H, mask, B_, S_, A, hd, attn_p, seed,
                                      lo + 0));
    // dx += the q/k/v projections' input gradients (dx holds dr1, the residual's).
    {
      float* const none[3] = {nullptr, nullptr, nullptr};
      const float* const d[3] = {dq_.data(), dk_.data(), dv_.data()};
      const float* const w[3] = {P + o.wq, P + o.wk, P + o.wv};
      TRY(be.linear_backward3(dx, none, none, d, x, w, N, H, H));
    }
    // The four [H,H] weight gradients of the attention block (query, key,
    // value from x; output from ctx), with their bias gradients.
    {
      float* const dw[4] = {G + o.wq, G + o.wk, G + o.wv, G + o.wao};
      float* const db[4] = {G + o.bq, G + o.bk, G + o.bv, G + o.bao};
      const float* const d[4] = {dq_.data(), dk_.data(), dv_.data(), dtmp_.data()};
      const float* const in[4] = {x, x, x, a.ctx.data()};
      TRY(be.linear_backward_weights(4, dw, db, d, in, N, H, H));
    }
  }
  if (project_) return be.linear_backward_write(demb, G + proj_w_, G + proj_b_, dx, emb, P + proj_w_, N, E_, H);
  return be.copy(demb, dx, NHb);
}

}  // namespace electra
