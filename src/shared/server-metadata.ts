import type { ServerMetadata } from './oip.js';

/**
 * The Open Inference Protocol extensions switchyard serves, on the gateway and on its runtime
 * alike: the one list `GET /v2` reports (Open Inference Protocol REST, inference_rest.md,
 * "Server Metadata": "extensions: the extensions supported by the server"). An extension is
 * listed only once it works end to end; a client reads this list to decide what to send.
 */
export const OIP_EXTENSIONS: readonly string[] = [
  // Triton's binary tensor data extension (docs/protocol/extension_binary_data.md): binary inputs
  // and outputs on the runtime and through the gateway (src/shared/binary-tensors.ts).
  'binary_tensor_data',
];

/** switchyard's release, as package.json states it (a unit test keeps the two equal). */
export const SWITCHYARD_VERSION = '0.1.0';

/** The body of `GET /v2` for a server named `name`. */
export function serverMetadata(name: string): ServerMetadata {
  return { name, version: SWITCHYARD_VERSION, extensions: [...OIP_EXTENSIONS] };
}
