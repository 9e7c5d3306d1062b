import assert from 'node:assert/strict';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * The response bodies of the Open Inference Protocol's REST API, written from its document:
 * kserve/open-inference-protocol, specification/protocol/inference_rest.md and the OpenAPI
 * file beside it (open_inference_rest.yaml, "Data Plane" version 2.0). Fields the document does
 * not name are allowed (it lets servers add parameters); the named ones must have its types.
 *
 * The document's "Server Ready" object shows `"live"`, a slip of its text: the KServe v2 text it
 * came from, and every client, read `"ready"`, which is what is checked here.
 */
export const LiveServerResponse = Type.Object({ live: Type.Boolean() });
export const ReadyServerResponse = Type.Object({ ready: Type.Boolean() });
export const ReadyModelResponse = Type.Object({ name: Type.String(), ready: Type.Boolean() });
export const MetadataServerResponse = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});
const MetadataTensor = Type.Object({
  name: Type.String(),
  datatype: Type.String(),
  shape: Type.Array(Type.Integer()),
});
export const MetadataModelResponse = Type.Object({
  name: Type.String(),
  versions: Type.Optional(Type.Array(Type.String())),
  platform: Type.String(),
  inputs: Type.Optional(Type.Array(MetadataTensor)),
  outputs: Type.Optional(Type.Array(MetadataTensor)),
});
const TensorData = Type.Array(
  Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Array(Type.Unknown())]),
);
export const InferenceResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Object({})),
  outputs: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer()),
      datatype: Type.String(),
      parameters: Type.Optional(Type.Object({})),
      data: TensorData,
    }),
  ),
});
/** Every error object of the document (`$inference_error_response`, `$metadata_*_error_response`). */
export const ErrorResponse = Type.Object({ error: Type.String() });

/** Asserts that `body` fits `schema`, naming every mismatch. */
export function assertFits(schema: TSchema, body: unknown, what: string): void {
  const errors = [...Value.Errors(schema, body)].map((e) => `${e.path || '/'}: ${e.message}`);
  assert.deepEqual(errors, [], `${what}: ${JSON.stringify(body)}`);
}
