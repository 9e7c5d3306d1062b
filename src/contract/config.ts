import { Type, type Static } from '@sinclair/typebox';

/** A named input of POST /v1/decisions/{model}; a value outside [min, max] is a 400. */
export const FeatureConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

export const ThresholdConfigSchema = Type.Object(
  {
    /** The decision applies from this score up (inclusive) to the next threshold. */
    at: Type.Number({ minimum: 0, maximum: 1 }),
    decision: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

/**
 * The business contract of POST /v1/decisions/{model}: callers send named features and get a
 * decision, so no product service parses tensors or hard-codes a threshold.
 */
export const ContractConfigSchema = Type.Object(
  {
    /** Input tensor name; the features fill it in the order listed. */
    input: Type.String({ minLength: 1 }),
    /** Output tensor name; it holds the score. */
    output: Type.String({ minLength: 1 }),
    /** Order is the column order in the input tensor, so reordering this list changes the model's input. */
    features: Type.Array(FeatureConfigSchema, { minItems: 1 }),
    decisions: Type.Object(
      {
        /** The decision when the score is under every threshold. */
        below: Type.String({ minLength: 1 }),
        /** Ascending by `at`; the highest threshold the score reaches decides. */
        thresholds: Type.Array(ThresholdConfigSchema, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The contract's fields of a model: without one, only the tensor endpoints serve it. */
export const ContractModelFields = {
  contract: Type.Optional(ContractConfigSchema),
};

export type FeatureConfig = Static<typeof FeatureConfigSchema>;
export type ThresholdConfig = Static<typeof ThresholdConfigSchema>;
export type ContractConfig = Static<typeof ContractConfigSchema>;
