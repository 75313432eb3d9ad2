/** What a fine-tuning task predicts. */
export type TaskKind = 'classification' | 'regression' | 'token';
/** Tokenized examples, row-major [count, seqLen], ready for one native call per batch. */
export interface EncodedExamples {
  kind: TaskKind;
  count: number;
  seqLen: number;
  inputIds: Int32Array;       // [count*seqLen], [CLS] a [SEP] (b [SEP]) then padding
  tokenTypeIds: Int32Array;   // [count*seqLen], 0 for segment a, 1 for segment b
  attentionMask: Int32Array;  // [count*seqLen], 1 real, 0 padding
  /** classification: [count] class index; token: [count*seqLen] tag index on the first word-piece of each word, -1 elsewhere (ignored by loss and metric) */
  labels: Int32Array | Float32Array; // regression: Float32Array [count]
}
/** A task's label space and official metrics, as the readers determine them. */
export interface TaskSpec {
  name: string;            // e.g. 'sst2', 'mrpc', 'brown-pos'
  kind: TaskKind;
  labels: string[];        // classification/token label names in index order; [] for regression
  metrics: string[];       // metric names from lib/metrics, first one is the model-selection metric
}
