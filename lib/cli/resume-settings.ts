/**
 * What `train --resume RUN` restores: the run's effective recipe
 * (RUN/recipe.json) and its data selection (RUN/data.json), so a resumed run
 * trains on the same data with the same batch, sequence length, schedule,
 * masking and seed, whatever flags the original command had. A recipe or
 * data flag given with --resume would silently change the run, so it is
 * refused unless --override is given; --steps alone extends the run.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ElectraError } from '../errors';

/** The recipe/data flags `train` takes, by their command-line names (camelCase key -> flag). */
export const RECIPE_FLAGS: Readonly<Record<string, string>> = {
  preset: '--preset',
  batch: '--batch',
  seq: '--seq',
  lr: '--lr',
  warmup: '--warmup',
  seed: '--seed',
  objective: '--objective',
  maskProb: '--mask-prob',
  masking: '--masking',
  generatorFraction: '--generator-fraction',
  generatorLayers: '--generator-layers',
  discWeight: '--disc-weight',
  temperature: '--temperature',
  gradAccum: '--grad-accum',
  config: '--config',
  corpus: '--corpus',
  dataset: '--dataset',
  vocab: '--vocab',
};

export interface SavedRun {
  /** The run directory holding recipe.json. */
  dir: string;
  preset: string;
  /** The resolved training recipe the run was started with (lib/recipe.ts TrainingRecipe fields). */
  training: Record<string, unknown>;
  /** RUN/data.json: where the batches came from. */
  data: { source?: string; inputs?: string[]; dataset?: string; vocab?: string; lowercase?: boolean } | null;
}

/** The run directory of a --resume argument (a run, or one of its checkpoints), or null when it has no recipe.json. */
export function findRunDir(resume: string): string | null {
  const abs = path.resolve(resume);
  for (const d of [abs, path.dirname(path.dirname(abs))]) {
    if (fs.existsSync(path.join(d, 'recipe.json'))) return d;
  }
  return null;
}

function readJson(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** The saved settings of the run behind a --resume argument; null for a run older than recipe.json or a lone checkpoint. */
export function readSavedRun(resume: string): SavedRun | null {
  const dir = findRunDir(resume);
  if (!dir) return null;
  const recipeFile = path.join(dir, 'recipe.json');
  const r = readJson(recipeFile);
  if (typeof r.preset !== 'string' || typeof r.training !== 'object' || r.training === null) {
    throw new ElectraError('ERR_CORRUPT_FILE', `${recipeFile}: expected {preset, training, model}`);
  }
  const dataFile = path.join(dir, 'data.json');
  const data = fs.existsSync(dataFile) ? (readJson(dataFile) as SavedRun['data']) : null;
  return { dir, preset: r.preset, training: r.training as Record<string, unknown>, data };
}

/** The saved value a recipe/data flag would change, or `undefined` when it has none to compare with (the flag counts as a change). */
function savedValue(saved: SavedRun, key: string): unknown {
  const t = saved.training;
  const d = saved.data ?? {};
  switch (key) {
    case 'preset': return saved.preset;
    case 'batch': return t.batch;
    case 'seq': return t.seqLen;
    case 'lr': return t.lr;
    case 'warmup': return t.warmupSteps;
    case 'seed': return t.seed;
    case 'maskProb': return t.maskProb;
    case 'masking': return t.masking;
    case 'discWeight': return t.discWeight;
    case 'temperature': return t.temperature;
    case 'gradAccum': return t.gradAccum;
    case 'corpus': return d.source === 'toy' ? ['toy'] : d.source === 'corpus' ? d.inputs : undefined;
    case 'dataset': return d.source === 'dataset' ? d.dataset : undefined;
    case 'vocab': return d.vocab;
    default: return undefined;
  }
}

function sameValue(key: string, given: unknown, saved: unknown): boolean {
  if (saved === undefined) return false;
  const norm = (v: unknown): unknown => {
    if (key === 'corpus' && Array.isArray(v)) return v.map((x) => (x === 'toy' ? x : path.resolve(String(x))));
    if ((key === 'dataset' || key === 'vocab') && typeof v === 'string') return path.resolve(v);
    return v;
  };
  return JSON.stringify(norm(given)) === JSON.stringify(norm(saved));
}

/**
 * The recipe/data flags in `args` (camelCase keys with a value) that would
 * change the saved run, as their command-line names; a flag repeating the
 * run's own value changes nothing and is not listed.
 */
export function givenRecipeFlags(args: Record<string, unknown>, saved: SavedRun): string[] {
  return Object.keys(RECIPE_FLAGS)
    .filter((k) => args[k] !== undefined && !sameValue(k, args[k], savedValue(saved, k)))
    .map((k) => RECIPE_FLAGS[k]);
}

/**
 * Refuses recipe/data flags on a resume unless `override`: the message names
 * the flags and the two ways forward.
 */
export function checkResumeFlags(saved: SavedRun, given: string[], override: boolean): void {
  if (given.length === 0 || override) return;
  throw new ElectraError(
    'ERR_INVALID_ARGUMENT',
    `--resume continues ${saved.dir} with its own recipe and data (recipe.json, data.json); ${given.join(', ')} would change them. ` +
      `Drop ${given.length === 1 ? 'it' : 'them'} (only --steps extends a run), or add --override to change the run on purpose (it is logged in overrides.jsonl).`,
  );
}

/** The data flags that select the saved run's data again (for the flags the user did not give). */
export function savedDataArgs(saved: SavedRun): { corpus?: string[]; dataset?: string; vocab?: string; cased?: boolean } {
  const d = saved.data;
  if (!d) return {};
  const out: { corpus?: string[]; dataset?: string; vocab?: string; cased?: boolean } = {};
  if (d.source === 'toy') return { corpus: ['toy'] };
  if (d.source === 'corpus' && Array.isArray(d.inputs)) out.corpus = d.inputs;
  if (d.source === 'dataset' && typeof d.dataset === 'string') out.dataset = d.dataset;
  if (typeof d.vocab === 'string') out.vocab = d.vocab;
  if (typeof d.lowercase === 'boolean') out.cased = !d.lowercase;
  return out;
}

/** Appends one line to RUN/overrides.jsonl: which flags changed a resumed run, and when. */
export function logOverride(dir: string, flags: string[], argv: string[]): void {
  fs.appendFileSync(path.join(dir, 'overrides.jsonl'), JSON.stringify({ time: new Date().toISOString(), flags, argv }) + '\n');
}
