/**
 * Strict config keys: a misspelt key in a config file or options object is an
 * error with a "did you mean" suggestion, never silently ignored. The key
 * tables are typed as Record<keyof ..., true>, so the compiler fails when
 * ConfigOptions or EncoderSize gains or loses a field and this file does not.
 */
import type { ConfigOptions, EncoderSize } from './config';
import { ElectraError } from './errors';

const OPTION_KEYS: Record<keyof ConfigOptions, true> = {
  preset: true,
  vocabSize: true,
  embeddingSize: true,
  maxPosition: true,
  typeVocabSize: true,
  discriminator: true,
  generator: true,
  generatorFraction: true,
  generatorLayers: true,
  layerNormEps: true,
  hiddenDropout: true,
  attentionDropout: true,
  objective: true,
  padId: true,
  unkId: true,
  clsId: true,
  sepId: true,
  maskId: true,
};

const ENCODER_KEYS: Record<keyof EncoderSize, true> = { hidden: true, layers: true, heads: true, intermediate: true };

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `known` to `key`, when it is close enough to be a likely typo (also snake_case for camelCase). */
export function suggest(key: string, known: readonly string[]): string | null {
  const camel = key.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = Math.min(editDistance(key, k), editDistance(camel, k));
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

function checkKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const s = suggest(key, known);
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      `unknown config key '${key}'${where ? ` in ${where}` : ''}${s ? `; did you mean '${s}'?` : ''} (known keys: ${known.join(', ')})`,
    );
  }
}

/**
 * Throws ERR_INVALID_ARGUMENT naming the first unknown key of config options
 * (nested encoder sizes included). `extraKeys`: other top-level keys the
 * caller accepts in the same object (e.g. training settings in a --config file).
 */
export function checkConfigKeys(opts: object, source = '', extraKeys: readonly string[] = []): void {
  const o = opts as Record<string, unknown>;
  checkKeys(o, [...Object.keys(OPTION_KEYS), ...extraKeys], source);
  for (const enc of ['discriminator', 'generator'] as const) {
    const e = o[enc];
    if (e === undefined) continue;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `config key '${enc}'${source ? ` in ${source}` : ''} must be an object like {"hidden": 256, "layers": 12, "heads": 4, "intermediate": 1024}`);
    }
    checkKeys(e as Record<string, unknown>, Object.keys(ENCODER_KEYS), `${enc}${source ? ` (${source})` : ''}`);
  }
}

/** Parses a JSON file of config options (the CLI's --config): an object with known keys only, else ERR_INVALID_ARGUMENT naming the file. */
export function parseConfigJson(text: string, file: string, extraKeys: readonly string[] = []): ConfigOptions {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${file}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ElectraError('ERR_INVALID_ARGUMENT', `${file}: expected a JSON object`);
  checkConfigKeys(v, file, extraKeys);
  return v as ConfigOptions;
}
