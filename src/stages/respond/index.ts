import type { ModelConfig } from '../../config/schema.js';
import { ERROR_CODE_HEADER, errorBody, gatewayError, type GatewayError } from '../../errors.js';
import { answeredBy, type Answer, type RequestContext, type Respond } from '../../pipeline/stage.js';
import { binaryOutputWanted } from '../../shared/binary-tensors.js';
import { withBinaryOutputs } from './binary.js';
import { renderDecision, renderInfer, renderPredictions } from './render.js';

/**
 * Once the stages have replied: shapes the answer for the endpoint the client called (tensors,
 * predictions or a decision) and names the variant, version and any fallback in headers.
 */
export function createRespond(modelName: string, model: ModelConfig): Respond {
  const { contract } = model;
  return (ctx, reply) => {
    if (!reply.ok) return refusal(ctx, reply.error);
    if (ctx.endpoint === 'decision' && contract) {
      nameWhatAnswered(ctx, reply);
      return { status: 200, body: renderDecision(reply, contract, ctx) };
    }
    if (!reply.response) {
      // A default decision has no tensors to give a tensor endpoint (the fallback stage offers
      // none there; this guards the shape). Nothing answered, so no header says anything did.
      const error = gatewayError(
        'UPSTREAM_FAILED',
        `the model path failed and "${modelName}" has only a default decision`,
      );
      return refusal(ctx, error);
    }
    nameWhatAnswered(ctx, reply);
    if (ctx.endpoint === 'predict') {
      return { status: 200, body: renderPredictions(reply.response, contract?.output) };
    }
    const clientId = (ctx.body as { id?: string }).id;
    const rendered = renderInfer(reply.response, modelName, reply, clientId);
    const wanted = binaryOutputWanted(ctx.body);
    if (!wanted) return { status: 200, body: rendered };
    const { body, tensors } = withBinaryOutputs(rendered, wanted);
    return tensors ? { status: 200, body, tensors } : { status: 200, body };
  };
}

/**
 * The headers say exactly what answered: the variant and version whose output this is (none for
 * a default decision, which no model gave) and the fallback, only when one answered.
 */
function nameWhatAnswered(ctx: Pick<RequestContext, 'headersOut'>, answer: Answer): void {
  const answered = answeredBy(answer);
  if (answered) {
    ctx.headersOut['x-switchyard-variant'] = answered.variant;
    ctx.headersOut['x-switchyard-model-version'] = answered.version;
  }
  if (answer.fallback)
    ctx.headersOut['x-switchyard-fallback'] = `${answer.fallback.kind}; reason=${answer.fallback.reason}`;
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
