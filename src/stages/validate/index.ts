import type { ModelConfig } from '../../config/schema.js';
import { gatewayError, type Problem } from '../../errors.js';
import { refuse, type NamedStage } from '../../pipeline/stage.js';
import type { ModelMetadata } from '../../shared/oip.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { MetadataSource } from './metadata.js';
import { decisionRequest, inferRequest, predictRequest } from './requests.js';
import { binaryTensors, checkTensors, contractMismatch } from './tensors.js';

export interface ValidateDeps {
  /** The runtime's metadata of the model's first variant; the variants of a model share inputs. */
  metadata?: MetadataSource;
  logger: Logger;
}

/**
 * Is the input well-formed for this model: builds the Open Inference Protocol request every later
 * stage sends, from whichever endpoint the client used, and checks its tensors against the
 * runtime's metadata. Nothing goes upstream that the model cannot take.
 */
export function createValidate(
  modelName: string,
  model: ModelConfig,
  deps: ValidateDeps = { logger: silentLogger },
): NamedStage {
  const { contract } = model;
  let checked: ModelMetadata | undefined;
  let mismatch: string | undefined;

  /** Compared once per metadata, so a wrong contract is reported when the runtime is first seen. */
  function contractProblem(metadata: ModelMetadata | undefined): string | undefined {
    if (!contract || !metadata) return undefined;
    if (metadata !== checked) {
      checked = metadata;
      mismatch = contractMismatch(contract, metadata);
      if (mismatch)
        deps.logger.error(
          { model: modelName, reason: mismatch },
          'the model contract does not fit the runtime',
        );
    }
    return mismatch;
  }

  return {
    name: 'validate',
    run(ctx, next) {
      const metadata = deps.metadata?.current();
      const unfit = contractProblem(metadata);
      if (unfit && ctx.endpoint === 'decision') {
        return Promise.resolve(refuse(gatewayError('MODEL_UNAVAILABLE', unfit)));
      }
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
        case 'predict': {
          // KServe v1 instances fill the contract's input, or the model's only input.
          const input = metadata?.inputs.find((t) => t.name === contract?.input) ?? metadata?.inputs[0];
          const target = {
            name: contract?.input ?? input?.name ?? 'input',
            datatype: input?.datatype ?? 'FP32',
          };
          ctx.inference = predictRequest(ctx.body, target, contract, ctx.requestId);
          break;
        }
        case 'infer':
          ctx.inference = inferRequest(ctx.body);
          ctx.inferenceTensors = binaryTensors(ctx.inference);
          break;
      }
      if (metadata) {
        const problems = checkTensors(ctx.inference, metadata);
        if (problems.length > 0) return Promise.resolve(refuse(invalid(problems)));
      }
      return next();
    },
  };
}

function invalid(problems: Problem[]) {
  return gatewayError('INPUT_INVALID', problems.map((p) => `${p.path} ${p.message}`).join('; '), {
    problems,
  });
}
