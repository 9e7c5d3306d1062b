import { Type, type Static } from '@sinclair/typebox';

export const AdmissionConfigSchema = Type.Object(
  {
    /** Requests for this model being worked on at once; more wait in the queue. */
    max_concurrency: Type.Integer({ minimum: 1, default: 256 }),
    /** Requests waiting beyond which new ones are shed with 503 (lowest priority first). */
    max_queue: Type.Integer({ minimum: 0, default: 1024 }),
  },
  { additionalProperties: false, default: {} },
);

/** The admission stage's fields of a model. */
export const AdmissionModelFields = {
  admission: AdmissionConfigSchema,
};

export type AdmissionConfig = Static<typeof AdmissionConfigSchema>;
