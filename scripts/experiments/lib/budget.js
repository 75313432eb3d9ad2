'use strict';
/**
 * Pre-training compute of a configuration, in the same FLOP count `bench`
 * uses (scripts/bench/flops.js): 3 x the forward matmul FLOPs per token.
 * An ELECTRA step pays for its generator and its discriminator; an MLM step
 * (objective 'mlm') for one BERT-style model of the discriminator's size and
 * its vocabulary head at the masked rows. Equal budgets therefore give the
 * MLM run more steps.
 */
const path = require('path');
const { modelFlops } = require('../../bench/flops');
const { ROOT } = require('./runs');

/** The resolved model config (lib/config.ts) of a preset/objective/overrides, from the built package. */
function resolveConfig(opts) {
  const { electraConfig } = require(path.join(ROOT, 'dist', 'config.js'));
  return electraConfig(opts);
}

/** FLOPs of one optimizer step of `config` at batch x seq. */
function stepFlops(config, { batch, seq, maskProb = 0.15 }) {
  if (config.objective === 'mlm') {
    const noDisc = { ...config, discriminator: { hidden: 0, layers: 0, intermediate: 0 } };
    const f = modelFlops(noDisc, { seq, batch, maskProb });
    // modelFlops counts the (absent) discriminator head as 2*H^2 + 2*H with H = 0: nothing.
    return f.perStep;
  }
  return modelFlops(config, { seq, batch, maskProb }).perStep;
}

/** Optimizer steps that spend `flops` (at least 1). */
function stepsFor(flops, perStep) {
  return Math.max(1, Math.round(flops / perStep));
}

module.exports = { resolveConfig, stepFlops, stepsFor };
