import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Drift of a model with a contract, measured all the time (not only during a rollout): each
 * serving variant's score and contract features over the last window, against a reference.
 */
export const DriftConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'measure drift (models with a contract only); false costs the request path nothing',
    }),
    window_s: Type.Number({
      minimum: 0.05,
      // setInterval takes at most 2^31 - 1 ms; a day is far inside that and longer than any use.
      maximum: 86400,
      default: 60,
      description: 'seconds of traffic each PSI is computed over',
    }),
    min_samples: Type.Integer({
      minimum: 1,
      default: 500,
      description:
        'rows a window needs before its PSI is exported (and before a first window becomes the reference)',
    }),
    reference: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "a reference histogram file (JSON), relative to this config file; without one, each variant's first window of min_samples rows is its reference",
      }),
    ),
  },
  { additionalProperties: false, description: 'drift of the score and contract features; needs a contract' },
);

/** The drift fields of a model: absent means the defaults (on, for a model with a contract). */
export const DriftModelFields = {
  drift: Type.Optional(DriftConfigSchema),
};

export type DriftConfig = Static<typeof DriftConfigSchema>;

/** What a model without a `drift` section gets. */
export const DRIFT_DEFAULTS: DriftConfig = Object.freeze(Value.Default(DriftConfigSchema, {}) as DriftConfig);
