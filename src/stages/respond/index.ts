import type { ModelConfig } from '../../config/schema.js';
import { ERROR_CODE_HEADER, errorBody, gatewayError, type GatewayError } from '../../errors.js';
import type { RequestContext, Respond } from '../../pipeline/stage.js';
import { renderDecision, renderInfer, renderPredictions } from './render.js';

/**
 * Once the stages have replied: shapes the answer for the endpoint the client called (tensors,
 * predictions or a decision) and names the variant, version and any fallback in headers.
 */
export function createRespond(modelName: string, model: ModelConfig): Respond {
  const { contract } = model;
  return (ctx, reply) => {
    if (!reply.ok) return refusal(ctx, reply.error);
    ctx.headersOut['x-switchyard-variant'] = reply.variant;
    ctx.headersOut['x-switchyard-model-version'] = reply.version;
    if (reply.fallback)
      ctx.headersOut['x-switchyard-fallback'] = `${reply.fallback.kind}; reason=${reply.fallback.reason}`;
    if (ctx.endpoint === 'decision' && contract) {
      return { status: 200, body: renderDecision(reply, contract, ctx) };
    }
    if (!reply.response) {
      // A default decision has no tensors to give a tensor endpoint.
      const error = gatewayError(
        'UPSTREAM_FAILED',
        `the model path failed and "${modelName}" has only a default decision`,
      );
      return refusal(ctx, error);
    }
    if (ctx.endpoint === 'predict') {
      return { status: 200, body: renderPredictions(reply.response, contract?.output) };
    }
    const clientId = (ctx.body as { id?: string }).id;
    return { status: 200, body: renderInfer(reply.response, modelName, reply, clientId) };
  };
}

/**
 * An error answer: the decision API's own shape, the protocol's `{"error": "<message>"}` on the
 * tensor and KServe endpoints (src/errors.ts, ErrorShape), the code in a header on both.
 */
function refusal(ctx: RequestContext, error: GatewayError): { status: number; body: object } {
  if (error.extra.headers) Object.assign(ctx.headersOut, error.extra.headers);
  ctx.headersOut[ERROR_CODE_HEADER] = error.code;
  return {
    status: error.status,
    body: errorBody(error, ctx.endpoint === 'decision' ? 'switchyard' : 'protocol'),
  };
}
