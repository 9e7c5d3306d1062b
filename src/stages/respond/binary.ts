import { encodeValues } from '../../shared/binary-tensors.js';
import type { InferResponse } from '../../shared/oip.js';

/**
 * An infer answer with the outputs the client asked for in binary (the binary tensor extension,
 * triton-inference-server/server docs/protocol/extension_binary_data.md): each such output's
 * `data` becomes `parameters.binary_data_size` in the JSON, and its values' little-endian bytes
 * follow the JSON in the outputs' order. The values are the ones the gateway checked (the runtime
 * answers it in JSON, src/stages/validate/requests.ts says why); an FP32 value read from JSON is
 * the float's exact value, so its bytes are the ones the runtime computed.
 */
/** The datatypes whose JSON values this writes as bytes; another (BYTES, FP16) stays JSON. */
const ENCODED = new Set([
  'BOOL',
  'INT8',
  'UINT8',
  'INT16',
  'UINT16',
  'INT32',
  'UINT32',
  'INT64',
  'UINT64',
  'FP32',
  'FP64',
]);

export function withBinaryOutputs(
  response: InferResponse,
  wanted: (name: string) => boolean,
): { body: InferResponse; tensors: Buffer[] | undefined } {
  let tensors: Buffer[] | undefined;
  const outputs = response.outputs.map((output) => {
    if (!wanted(output.name) || !ENCODED.has(output.datatype)) return output;
    const bytes = encodeValues(output.datatype, output.data);
    (tensors ??= []).push(bytes);
    const { data: _values, ...described } = output;
    return { ...described, parameters: { binary_data_size: bytes.length } };
  });
  return { body: { ...response, outputs: outputs as InferResponse['outputs'] }, tensors };
}
