import type { ModelConfig } from '../../config/schema.js';
import { gatewayError } from '../../errors.js';
import type { NamedStage } from '../../pipeline/stage.js';
import { renderDecision, renderInfer, renderPredictions } from './render.js';

/**
 * On the way out: shapes the answer for the endpoint the client called (tensors, predictions or
 * a decision) and names the variant, version and any fallback in headers.
 */
export function createRespond(modelName: string, model: ModelConfig): NamedStage {
  const { contract } = model;
  return {
    name: 'respond',
    async run(ctx, next) {
      const reply = await next();
      if (!reply.ok) {
        ctx.response = { status: reply.error.status, body: reply.error.toJSON() };
        if (reply.error.extra.headers) Object.assign(ctx.headersOut, reply.error.extra.headers);
        return reply;
      }
      ctx.headersOut['x-switchyard-variant'] = reply.variant;
      ctx.headersOut['x-switchyard-model-version'] = reply.version;
      if (reply.fallback)
        ctx.headersOut['x-switchyard-fallback'] = `${reply.fallback.kind}; reason=${reply.fallback.reason}`;
      if (ctx.endpoint === 'decision' && contract) {
        ctx.response = { status: 200, body: renderDecision(reply, contract, ctx) };
      } else if (!reply.response) {
        // A default decision has no tensors to give a tensor endpoint.
        const error = gatewayError(
          'UPSTREAM_FAILED',
          `the model path failed and "${modelName}" has only a default decision`,
        );
        ctx.response = { status: error.status, body: error.toJSON() };
      } else if (ctx.endpoint === 'predict') {
        ctx.response = { status: 200, body: renderPredictions(reply.response, contract?.output) };
      } else {
        const clientId = (ctx.body as { id?: string }).id;
        ctx.response = { status: 200, body: renderInfer(reply.response, modelName, reply, clientId) };
      }
      return reply;
    },
  };
}
