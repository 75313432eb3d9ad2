'use strict';
/**
 * Model FLOPs of one ELECTRA training step: the single count `bench` uses to
 * turn every implementation's tokens/s into a FLOP rate, so the rates (and
 * their fractions of each implementation's own sgemm peak) are comparable.
 * It counts the matmul work the model needs, not what an implementation
 * happens to do: HF's stock head projects every position onto the
 * vocabulary, yet it is credited with the masked rows only, like ours.
 *
 * Per token, forward, for one encoder of width H, depth L, FFN width F at
 * sequence length S, fed the shared embeddings of width E:
 *
 *   embedding projection   2*E*H              (only when E != H)
 *   per layer              8*H^2              Q, K, V and output projections
 *                        + 4*H*F              FFN in and out
 *                        + 4*S*H              attention scores Q K^T and probs @ V
 *
 * Heads:
 *   discriminator          2*H^2 + 2*H        dense H->H, classifier H->1; every token
 *   generator              (2*Hg*E + 2*E*V) * m
 *                                             dense Hg->E, tied vocabulary projection
 *                                             E->V, at the masked rows only
 *   m = maskProb * (S - 2) / S                masked rows per token: both
 *                                             implementations mask maskProb of the
 *                                             non-special tokens, and each benchmark
 *                                             row has exactly 2 ([CLS], [SEP])
 *
 * Training step = 3 x forward (the backward pass is 2 matmuls per forward
 * matmul: input gradient and weight gradient). Element-wise work (GELU,
 * LayerNorm, softmax, dropout, sampling, AdamW) is not counted.
 *
 * For ELECTRA-Small (H 256, L 12, F 1024, generator 64/12/256, E 128,
 * V 30522) at S 128 this is about 70 MFLOP/token.
 */

/** Forward matmul FLOPs per token of one encoder (no head). */
function encoderForwardFlops(enc, seq, embeddingSize) {
  const H = enc.hidden;
  const proj = embeddingSize !== H ? 2 * embeddingSize * H : 0;
  const layer = 8 * H * H + 4 * H * enc.intermediate + 4 * seq * H;
  return proj + enc.layers * layer;
}

/**
 * { perToken, perStep, forwardPerToken, parts } for a config with the fields
 * of lib/config.ts ElectraConfig (vocabSize, embeddingSize, discriminator,
 * generator: {hidden, layers, intermediate}) at seq x batch.
 */
function modelFlops(config, { seq, batch = 1, maskProb = 0.15 }) {
  const E = config.embeddingSize;
  const V = config.vocabSize;
  const d = config.discriminator;
  const g = config.generator;
  const masked = seq > 2 ? (maskProb * (seq - 2)) / seq : 0;
  const parts = {
    generator_encoder: encoderForwardFlops(g, seq, E),
    generator_head: (2 * g.hidden * E + 2 * E * V) * masked,
    discriminator_encoder: encoderForwardFlops(d, seq, E),
    discriminator_head: 2 * d.hidden * d.hidden + 2 * d.hidden,
  };
  const forwardPerToken = Object.values(parts).reduce((a, b) => a + b, 0);
  const perToken = 3 * forwardPerToken;
  return { perToken, perStep: perToken * seq * batch, forwardPerToken, maskedRowsPerToken: masked, parts };
}

module.exports = { modelFlops, encoderForwardFlops };
