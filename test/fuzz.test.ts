// Seeded fuzz harness: every parser gets mutated versions of a valid input,
// and every case must end in success or a clean ElectraError; anything else
// (a TypeError, a RangeError, a hang) fails with the seed and case to replay.
// CI runs ELECTRA_FUZZ_CASES (default 2000) cases per parser from
// ELECTRA_FUZZ_SEED (default 1); set them to run more on demand.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { ArrayDataset, buildDataset, electraConfig, ElectraError, serializeSafetensors, ShardDataset, toFloat32, WordPieceTokenizer } from '../lib';
import { MANIFEST_FORMAT, parseManifest } from '../lib/checkpoint-manifest';
import { parseConfigJson } from '../lib/config-keys';
import { parseVocabText } from '../lib/data/tokenizer';
import { parseSafetensors } from '../lib/io/safetensors';
import { readConll, readGlue, readTable } from '../lib/finetune/data';
import { parseTrainerState } from '../lib/trainer';
import { mutateBytes, mutateJson, mutateJsonText, rng } from './fuzz/mutate';

const CASES = Number(process.env.ELECTRA_FUZZ_CASES ?? 2000);
const SEED = Number(process.env.ELECTRA_FUZZ_SEED ?? 1);
/** Cases for the parsers that build or read files per case (corpus, shards): a quarter, as each costs a few ms of I/O. */
const FILE_CASES = Math.max(1, Math.round(CASES / 4));
const tally: Record<string, { cases: number; ok: number; rejected: number }> = {};

async function fuzz(name: string, cases: number, one: (r: () => number, i: number) => unknown | Promise<unknown>): Promise<void> {
  const t = (tally[name] = { cases: 0, ok: 0, rejected: 0 });
  for (let i = 0; i < cases; i++) {
    const r = rng(SEED * 1000003 + i);
    try {
      await one(r, i);
      t.ok++;
    } catch (e) {
      if (!(e instanceof ElectraError)) {
        throw new Error(`${name}: case ${i} (ELECTRA_FUZZ_SEED=${SEED}) ended in ${(e as Error)?.constructor?.name ?? typeof e}, not an ElectraError: ${(e as Error)?.stack ?? String(e)}`);
      }
      t.rejected++;
    }
    t.cases++;
  }
  expect(t.cases).toBe(cases);
}

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-fuzz-'))));
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  const lines = Object.entries(tally).map(([k, t]) => `  ${k.padEnd(22)} ${String(t.cases).padStart(6)} cases: ${t.ok} parsed, ${t.rejected} ElectraError, 0 crashes`);
  process.stdout.write(`fuzz (seed ${SEED}):\n${lines.join('\n')}\n`);
});

const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const words = ['the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'ran', '##s', '##ed', '.', ','];

test('safetensors', async () => {
  const valid = serializeSafetensors(
    [
      { name: 'a', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'b.weight', shape: [4], data: new Float32Array([0.5, -1, 2, 1e-3]) },
      { name: 'c', shape: [], data: new Float32Array([7]) },
    ],
    { format: 'pt' },
  );
  await fuzz('safetensors', CASES, (r) => {
    const st = parseSafetensors(mutateBytes(valid, r), 'fuzz.safetensors');
    for (const [name, t] of st.tensors) toFloat32(t, 'fuzz.safetensors', name);
  });
});

test('checkpoint manifest', async () => {
  const valid = { format: MANIFEST_FORMAT, files: { 'model.safetensors': { bytes: 1234, crc32c: '0a1b2c3d' }, 'trainer.json': { bytes: 10, crc32c: 'ffffffff' } } };
  await fuzz('checkpoint manifest', CASES, (r) => parseManifest(mutateJsonText(valid, r), 'manifest.json'));
});

test('checkpoint state (trainer.json and the data position)', async () => {
  const valid = { format: 'electra-native-checkpoint/1', step: 12, seed: 0, batchSize: 4, seqLen: 32, data: { epoch: 1, cursor: 3, seed: 0 } };
  const data = new ArrayDataset([{ ids: [2, 5, 6, 3] }, { ids: [2, 7, 3] }]);
  await fuzz('checkpoint state', CASES, (r) => {
    const st = parseTrainerState(mutateJsonText(valid, r), 'trainer.json');
    if (st.data !== null) {
      data.restore(st.data);
      data.next(2, 8);
    }
  });
});

test('config JSON', async () => {
  const valid = { preset: 'tiny', vocabSize: 100, discriminator: { layers: 1, hidden: 32, heads: 2, intermediate: 64 }, generator: { hidden: 16 }, hiddenDropout: 0.1, objective: 'electra', maxPosition: 64 };
  await fuzz('config JSON', CASES, (r) => electraConfig(parseConfigJson(mutateJsonText(valid, r), 'config.json')));
});

test('vocabulary', async () => {
  const valid = Buffer.from([...specials, ...words].join('\n') + '\n');
  await fuzz('vocabulary', CASES, (r) => {
    const tokens = parseVocabText(mutateBytes(valid, r).toString('utf8'));
    const tok = new WordPieceTokenizer(tokens, { lowercase: r() < 0.5 });
    tok.encode('The cats sat on the mat, a dog ran.', r() < 0.5 ? 'the dog' : null, { maxLength: 16, truncation: true });
  });
});

test('corpus and gzip (through the dataset builder)', async () => {
  const vocabFile = path.join(dir, 'vocab.txt');
  fs.writeFileSync(vocabFile, [...specials, ...words].join('\n') + '\n');
  const text = Buffer.from('the cat sat on the mat .\nthe dog ran .\n\na cat ran , the dog sat .\nthe mats .\n');
  const gz = zlib.gzipSync(text);
  await fuzz('corpus + gzip', FILE_CASES, async (r, i) => {
    const kind = Math.floor(r() * 3);
    // plain text mutated; valid gzip of mutated text; mutated gzip bytes
    const bytes = kind === 0 ? mutateBytes(text, r) : kind === 1 ? zlib.gzipSync(mutateBytes(text, r)) : mutateBytes(gz, r);
    const input = path.join(dir, `corpus-${i}${kind === 0 ? '.txt' : '.txt.gz'}`);
    const outDir = path.join(dir, `ds-${i}`);
    fs.writeFileSync(input, bytes);
    try {
      await buildDataset({ inputs: [input], outDir, vocabFile, seqLen: 16, workers: 0 });
    } finally {
      fs.rmSync(input, { force: true });
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });
});

test('dataset shards and manifest', async () => {
  const vocabFile = path.join(dir, 'vocab-ds.txt');
  fs.writeFileSync(vocabFile, [...specials, ...words].join('\n') + '\n');
  const corpus = path.join(dir, 'ds-corpus.txt');
  fs.writeFileSync(corpus, Array.from({ length: 200 }, (_, i) => `the cat sat on the mat ${i % 2 ? '.' : ','}\nthe dog ran .\n`).join('\n'));
  const valid = path.join(dir, 'ds-valid');
  await buildDataset({ inputs: [corpus], outDir: valid, vocabFile, seqLen: 16, workers: 0, chunkBytes: 1024 });
  const manifest = JSON.parse(fs.readFileSync(path.join(valid, 'manifest.json'), 'utf8')) as { shards: { file: string }[] };
  const shardFiles = manifest.shards.map((s) => s.file);
  expect(shardFiles.length).toBeGreaterThan(1);
  await fuzz('dataset shards+manifest', FILE_CASES, (r, i) => {
    const d = path.join(dir, `dsf-${i}`);
    fs.cpSync(valid, d, { recursive: true });
    try {
      if (r() < 0.5) fs.writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(mutateJson(manifest, r)));
      else {
        const f = path.join(d, shardFiles[Math.floor(r() * shardFiles.length)]);
        fs.writeFileSync(f, mutateBytes(fs.readFileSync(f), r));
      }
      const ds = new ShardDataset(d, { seed: 1 });
      for (let k = 0; k < 3; k++) ds.next(4, ds.seqLen);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

test('GLUE TSV', async () => {
  const mrpc = Buffer.from('Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tThe cat sat .\tA cat sat .\n0\t3\t4\tThe dog ran .\tIt rained .\n');
  const stsb = Buffer.from('index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tmain\tf\t2012\t1\tnone\tnone\tA man plays .\tA man plays guitar .\t4.2\n');
  const cola = Buffer.from('gj04\t1\t\tThe cat sat on the mat .\ngj04\t0\t*\tCat the mat on sat .\n');
  const inputs: [string, Buffer][] = [['mrpc', mrpc], ['stsb', stsb], ['cola', cola]];
  await fuzz('GLUE TSV', CASES, (r) => {
    const [task, bytes] = inputs[Math.floor(r() * inputs.length)];
    readGlue(task, mutateBytes(bytes, r), `${task}.tsv`, { requireLabels: r() < 0.3 });
  });
});

test('CSV / JSONL tables', async () => {
  const csv = Buffer.from('id,text,label\n1,"the cat, sat",pos\n2,"a ""quoted"" dog",neg\n');
  const jsonl = Buffer.from('{"id": 1, "text": "the cat", "label": "pos"}\n{"id": 2, "text": "a dog", "label": "neg"}\n');
  await fuzz('CSV/JSONL tables', CASES, (r) => {
    const json = r() < 0.5;
    readTable(mutateBytes(json ? jsonl : csv, r), json ? 'd.jsonl' : 'd.csv', { textColumn: 'text', labelColumn: 'label' });
  });
});

test('CoNLL', async () => {
  const conll = Buffer.from('-DOCSTART- O\n\nThe DET\ncat NOUN\nsat VERB\n\nA DET\ndog NOUN\n');
  await fuzz('CoNLL', CASES, (r) => readConll(mutateBytes(conll, r), 'pos.conll', { requireLabels: r() < 0.3 }));
});
