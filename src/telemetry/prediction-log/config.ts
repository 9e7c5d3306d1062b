import { Type, type Static } from '@sinclair/typebox';

/**
 * Where the prediction log goes: a JSONL file with size-based rotation, or — with
 * `state.redis_url` set — a Redis stream, the file then taking only what Redis refused. Read at
 * start, like `state.redis_url`.
 */
export const PredictionLogConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /**
     * Relative to the gateway's working directory. In Kubernetes the root filesystem is read-only:
     * point this into an emptyDir sized for keep_files × rotate_bytes.
     */
    path: Type.String({ minLength: 1, default: 'switchyard-predictions.jsonl' }),
    /** The live file is renamed to `<path>.1` once it reaches this size. */
    rotate_bytes: Type.Integer({ minimum: 1, default: 67108864 }),
    /** Files kept, the live one included (`<path>`, `<path>.1`, …): the disk used is at most keep_files × rotate_bytes. */
    keep_files: Type.Integer({ minimum: 1, default: 5 }),
    /** Records waiting to be written beyond which new ones are dropped (and counted), never waited for. */
    buffer_records: Type.Integer({ minimum: 1, default: 10000 }),
    redis_stream: Type.Object(
      {
        key: Type.String({ minLength: 1, default: 'switchyard:predictions' }),
        /** Approximate length the stream is trimmed to (`XADD … MAXLEN ~`). */
        maxlen: Type.Integer({ minimum: 1, default: 1000000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/** A model's fields about its prediction records; read per request, so they follow reloads. */
export const PredictionLogModelFields = {
  /** Put the request's inputs in its record (named features for decisions, tensors otherwise). */
  log_inputs: Type.Boolean({ default: false }),
  /** Feature (or input tensor) names whose values are written as "[redacted]" when inputs are logged. */
  log_redact: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
};

export type PredictionLogConfig = Static<typeof PredictionLogConfigSchema>;
