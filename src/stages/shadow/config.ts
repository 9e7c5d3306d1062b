import { Type, type Static } from '@sinclair/typebox';
import { NameSchema } from '../../config/common.js';

/** A variant that receives a copy of live traffic; its answers are compared, never returned. */
export const ShadowConfigSchema = Type.Object(
  {
    /** Distinct from the model's variant names, so metrics and logs can't mix the two up. */
    name: NameSchema,
    upstream: NameSchema,
    model: Type.String({ minLength: 1 }),
    version: Type.String({ minLength: 1 }),
    /** Share of requests mirrored (0 keeps the shadow configured but idle). */
    percent: Type.Number({ minimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);

/** The shadow stage's fields of a model. */
export const ShadowModelFields = {
  shadows: Type.Array(ShadowConfigSchema, { default: [] }),
  /** Mirrored copies in flight per model beyond which new ones are dropped, so shadows can't pile up. */
  shadow_max_concurrency: Type.Integer({ minimum: 1, default: 64 }),
  /**
   * Most rows one mirrored call carries: copies of one event-loop turn bound for a shadow share a
   * call when its runtime states a batch size (src/stages/shadow/batch.ts). 1 sends each alone.
   */
  shadow_batch_max_rows: Type.Integer({ minimum: 1, maximum: 4096, default: 32 }),
};

export type ShadowConfig = Static<typeof ShadowConfigSchema>;
