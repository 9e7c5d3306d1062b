import type { ModelConfig } from '../../config/schema.js';
import { gatewayError } from '../../errors.js';
import { refuse, type NamedStage } from '../../pipeline/stage.js';
import { decisionRequest, inferRequest, predictRequest } from './requests.js';

/**
 * Is the input well-formed for this model: builds the Open Inference Protocol request every
 * later stage sends, from whichever endpoint the client used. Nothing goes upstream unchecked.
 */
export function createValidate(modelName: string, model: ModelConfig): NamedStage {
  const { contract } = model;
  // KServe v1 instances fill the contract's input, or a single FP32 input named by convention.
  const predictInput = { name: contract?.input ?? 'input', datatype: 'FP32' };
  return {
    name: 'validate',
    run(ctx, next) {
      switch (ctx.endpoint) {
        case 'decision':
          if (!contract) {
            return Promise.resolve(
              refuse(
                gatewayError(
                  'MODEL_UNKNOWN',
                  `"${modelName}" has no decision contract; use /v2/models/${modelName}/infer`,
                ),
              ),
            );
          }
          ctx.inference = decisionRequest(ctx.body, contract, ctx.requestId);
          break;
        case 'predict':
          ctx.inference = predictRequest(ctx.body, predictInput, contract, ctx.requestId);
          break;
        case 'infer':
          ctx.inference = inferRequest(ctx.body);
          break;
      }
      return next();
    },
  };
}
