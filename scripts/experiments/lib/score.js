'use strict';
/**
 * One number per pre-trained model: the average, over the evaluation
 * suite's tasks, of each task's primary metric, on the dev split (used to
 * choose learning rates) or the test split (reported). Reads what
 * `electra-native eval-suite --json` prints.
 */

/** { dev, test } averages of the primary metric over the suite's tasks. */
function suiteScore(result) {
  const tasks = Array.isArray(result.tasks) ? result.tasks : Object.values(result.tasks ?? {});
  if (tasks.length === 0) throw new Error('eval-suite result has no tasks');
  const pick = (t, split) => {
    // eval-suite --json: { tasks: [{ task, metrics: [primary, ...], dev: {metric: v}, test: {...} }] }
    const v = t[split]?.[t.metrics?.[0]];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`eval-suite result: task ${t.task ?? '?'} has no ${split} ${t.metrics?.[0] ?? 'score'}`);
    return v;
  };
  const avg = (split) => tasks.reduce((a, t) => a + pick(t, split), 0) / tasks.length;
  return { dev: avg('dev'), test: avg('test') };
}

module.exports = { suiteScore };
