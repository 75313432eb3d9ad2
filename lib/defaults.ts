/**
 * The defaults of the model config, the training config and the names of the
 * step metrics, as the native core declares them (native/core/config_table.h,
 * exported by the addon's configSchema()). TypeScript and the CLI take their
 * defaults from here instead of restating them; test/defaults.test.ts checks
 * that every layer agrees.
 */
import { toElectraError } from './errors';
import { loadNative } from './native';
import type { NativeConfigSchema, NativeModelConfig, NativeTrainConfig } from './native-model';

let schema: NativeConfigSchema | undefined;

/** The native schema (loaded once; ERR_NATIVE_LOAD without the addon). */
export function configSchema(): NativeConfigSchema {
  if (!schema) {
    const s = loadNative().configSchema();
    schema = Object.freeze({
      model: Object.freeze(s.model),
      encoder: Object.freeze(s.encoder),
      train: Object.freeze(s.train),
      metrics: Object.freeze(s.metrics),
    });
  }
  return schema;
}

/** Defaults of every training-config field (optimizer included). */
export function trainDefaults(): Readonly<NativeTrainConfig> {
  return configSchema().train;
}

/** Defaults of the model config's scalar fields (vocabulary, special ids, dropout, ...). */
export function modelDefaults(): Readonly<NativeConfigSchema['model']> {
  return configSchema().model;
}

/** The native step metrics' names, in declaration order. */
export function stepMetricNames(): string[] {
  return Object.keys(configSchema().metrics);
}

/** The core's validation of a model config and, when given, a training config; throws ElectraError ERR_INVALID_ARGUMENT. */
export function checkNativeConfig(model: Partial<NativeModelConfig>, train?: Partial<NativeTrainConfig>): void {
  try {
    loadNative().checkConfig(model, train);
  } catch (e) {
    throw toElectraError(e);
  }
}
