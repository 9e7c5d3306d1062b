import type { ModelConfig } from '../../config/schema.js';
import { gatewayError, type Problem } from '../../errors.js';
import { refuse, type EndpointKind, type NamedStage } from '../../pipeline/stage.js';
import type { InferRequest, ModelMetadata } from '../../shared/oip.js';
import type { ContractConfig } from '../../contract/config.js';
import { rowRangeProblems } from '../../contract/features.js';
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
      // One range rule for every endpoint of a model with a contract: rows of numbers (KServe
      // instances, OIP tensors) are held to the features' ranges as named features are.
      if (contract && ctx.endpoint !== 'decision') {
        const problems = contractRangeProblems(contract, ctx.inference, ctx.endpoint, ctx.body);
        if (problems.length > 0) return Promise.resolve(refuse(invalid(problems)));
      }
      return next();
    },
  };
}

/**
 * The contract input's values out of their features' ranges, with their paths in the request as
 * the client wrote it: `/inputs/K/data/I` of an OIP tensor (I in the flattened data), or
 * `/instances/R/C` (`/inputs/R/C`) of a KServe row. Named-feature instances were checked when
 * their rows were built; a row of the wrong width was refused by the tensor checks.
 */
function contractRangeProblems(
  contract: ContractConfig,
  inference: InferRequest,
  endpoint: EndpointKind,
  body: unknown,
): Problem[] {
  const index = inference.inputs.findIndex((tensor) => tensor.name === contract.input);
  const tensor = inference.inputs[index];
  if (!tensor) return [];
  const data = Array.isArray(tensor.data) ? (tensor.data as unknown[]).flat(Infinity) : [];
  const columns = contract.features.length;
  if (data.length % columns !== 0) return [];
  if (endpoint === 'predict') {
    const field = (body as { inputs?: unknown }).inputs !== undefined ? 'inputs' : 'instances';
    return rowRangeProblems(contract, data, (i) => `/${field}/${Math.floor(i / columns)}/${i % columns}`);
  }
  return rowRangeProblems(contract, data, (i) => `/inputs/${index}/data/${i}`);
}

function invalid(problems: Problem[]) {
  return gatewayError('INPUT_INVALID', problems.map((p) => `${p.path} ${p.message}`).join('; '), {
    problems,
  });
}
