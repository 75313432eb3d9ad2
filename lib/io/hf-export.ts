/**
 * Export to HF transformers: two save_pretrained-style directories,
 * `discriminator/` (ElectraForPreTraining) and `generator/` (ElectraForMaskedLM),
 * each with model.safetensors (HF tensor names), config.json, vocab.txt,
 * tokenizer_config.json and special_tokens_map.json.
 */
import * as fs from 'fs';
import * as path from 'path';

import type { ElectraConfig } from '../config';
import { ElectraError } from '../errors';
import { ElectraModel, hfConfig } from '../model';
import { writeFileAtomic } from './atomic';
import { serializeSafetensors, TensorToWrite } from './safetensors';

export interface ExportOptions {
  /** The vocabulary, one token per id (written as vocab.txt). */
  vocab: string[];
  /** The tokenizer lowercases (uncased BERT vocabularies). Default true. */
  lowercase?: boolean;
}

/** Table name -> name inside the HF generator directory (null: not part of it). */
function generatorFileName(n: string): string | null {
  if (n.startsWith('generator.')) return 'electra.' + n.slice('generator.'.length);
  if (n.startsWith('generator_')) return n;
  if (n.startsWith('electra.embeddings.')) return n;
  return null;
}

/** Table name -> name inside the HF discriminator directory. */
function discriminatorFileName(n: string): string | null {
  return n.startsWith('generator') ? null : n;
}

export async function exportHf(model: ElectraModel, outDir: string, opts: ExportOptions): Promise<{ discriminator: string; generator: string }> {
  const c = model.config;
  if (c.objective !== 'electra') throw new ElectraError('ERR_INVALID_ARGUMENT', "only 'electra' models have a discriminator to export");
  if (opts.vocab.length !== c.vocabSize) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `the vocabulary has ${opts.vocab.length} tokens but the model expects ${c.vocabSize}`);
  }
  const specs = model.tensorSpecs();
  const dirs = { discriminator: path.join(outDir, 'discriminator'), generator: path.join(outDir, 'generator') };
  for (const which of ['discriminator', 'generator'] as const) {
    const dir = dirs[which];
    await fs.promises.mkdir(dir, { recursive: true });
    const rename = which === 'discriminator' ? discriminatorFileName : generatorFileName;
    const tensors: TensorToWrite[] = [];
    for (const s of specs) {
      const name = rename(s.name);
      if (name !== null) tensors.push({ name, shape: s.shape, data: model.getTensor(s.name) });
    }
    await writeFileAtomic(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
    const config = { ...hfConfig(c as ElectraConfig, which), torch_dtype: 'float32' };
    await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    await writeTokenizerFiles(dir, opts.vocab, opts.lowercase ?? true, c.maxPosition);
  }
  return dirs;
}

/** vocab.txt, special_tokens_map.json and tokenizer_config.json (ElectraTokenizer) in `dir`, each atomically. */
export async function writeTokenizerFiles(dir: string, vocab: string[], lowercase: boolean, maxLength: number): Promise<void> {
  await writeFileAtomic(path.join(dir, 'vocab.txt'), vocab.join('\n') + '\n');
  const special = { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' };
  await writeFileAtomic(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n');
  const tok = {
    tokenizer_class: 'ElectraTokenizer',
    do_lower_case: lowercase,
    tokenize_chinese_chars: true,
    strip_accents: null,
    model_max_length: maxLength,
    ...special,
  };
  await writeFileAtomic(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tok, null, 2) + '\n');
}
