import { Type, type Static } from '@sinclair/typebox';
import { NameSchema } from '../../config/common.js';

/** Answer with the cached result for the same input, if any. */
export const CacheFallbackSchema = Type.Literal('cache');

/** Call another variant of the same model (never the one that just failed). */
export const VariantFallbackSchema = Type.Object({ variant: NameSchema }, { additionalProperties: false });

/** A fixed answer; always succeeds, so it belongs last. */
export const DefaultFallbackSchema = Type.Object(
  {
    default: Type.Object(
      {
        decision: Type.String({ minLength: 1 }),
        score: Type.Optional(Type.Number()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const FallbackStepSchema = Type.Union(
  [CacheFallbackSchema, VariantFallbackSchema, DefaultFallbackSchema],
  {
    description: 'cache, { variant: NAME } or { default: { decision: TEXT, score?: NUMBER } }',
  },
);

/** The fallback stage's fields of a model: tried in order when the model path fails or runs out of time. */
export const FallbackModelFields = {
  fallback: Type.Array(FallbackStepSchema, { default: [] }),
};

export type FallbackStep = Static<typeof FallbackStepSchema>;
export type VariantFallback = Static<typeof VariantFallbackSchema>;
export type DefaultFallback = Static<typeof DefaultFallbackSchema>;
