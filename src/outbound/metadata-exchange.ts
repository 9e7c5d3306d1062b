import type { Endpoint } from '../runtime-pool/index.js';
import { answeredByServer, httpStatusOf } from './grpc-exchange.js';

/** A runtime's answer to a model version's metadata: the REST status and JSON text. */
export interface MetadataAnswer {
  status: number;
  text: string;
}

/**
 * GET /v2/models/{model}/versions/{version} of one endpoint, or for a grpc:// endpoint the
 * protocol's ModelMetadata call (inference_grpc.md, "Model Metadata") answered as the REST JSON.
 * The gRPC message has no `parameters`, so a grpc endpoint's metadata lacks `max_batch_size`.
 * Rejects when no answer came (refused, reset, timed out), as undici's request does.
 */
export async function metadataExchange(
  endpoint: Endpoint,
  model: string,
  version: string,
  timeoutMs: number,
): Promise<MetadataAnswer> {
  if (endpoint.grpc) {
    const { response, error, trailers } = await endpoint.grpc.modelMetadata(
      { name: model, version },
      Date.now() + timeoutMs,
    );
    if (response) return { status: 200, text: JSON.stringify(response) };
    const { status } = httpStatusOf(error!.code, error!.details, answeredByServer(trailers));
    if (status === 0) throw new Error(error!.details);
    return { status, text: JSON.stringify({ error: error!.details }) };
  }
  const response = await endpoint.dispatcher!.request({
    method: 'GET',
    path: `/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}`,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { status: response.statusCode, text: await response.body.text() };
}
