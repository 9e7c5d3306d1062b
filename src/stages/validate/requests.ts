import type { ContractConfig } from '../../contract/config.js';
import { featuresToRow } from '../../contract/features.js';
import { gatewayError, type Problem } from '../../errors.js';
import type { InferRequest, RequestInput } from '../../shared/oip.js';
import { checkForwarded } from './protocol.js';

/** POST /v1/decisions/{model}: `{"user_id"?, "features": {...}}` → one FP32 row of the contract's input. */
export function decisionRequest(body: unknown, contract: ContractConfig, requestId: string): InferRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid([{ path: '/', message: 'must be an object with "features"' }]);
  }
  const { user_id: userId, features } = body as { user_id?: unknown; features?: unknown };
  const problems: Problem[] = [];
  if (userId !== undefined && typeof userId !== 'string' && typeof userId !== 'number') {
    problems.push({ path: '/user_id', message: 'must be a string' });
  }
  const { row, problems: featureProblems } = featuresToRow(contract, features);
  problems.push(...featureProblems);
  if (problems.length > 0 || !row) throw invalid(problems);
  return {
    id: requestId,
    inputs: [{ name: contract.input, datatype: 'FP32', shape: [1, row.length], data: row }],
    outputs: [{ name: contract.output }],
  };
}

/**
 * POST /v1/models/{model}:predict (KServe v1 data plane, "Predict": `{"instances": [...]}`, or its
 * `{"inputs": [...]}` form, the TensorFlow Serving predict API's name that KServe's v1 model server
 * also reads). An instance is a row (nested arrays of numbers) or, for a model with a contract, an
 * object of named features. The columnar form of `inputs` (an object of named columns) is not
 * served: it is refused as such, not as a missing `instances`.
 */
export function predictRequest(
  body: unknown,
  input: { name: string; datatype: string },
  contract: ContractConfig | undefined,
  requestId: string,
): InferRequest {
  const given = (typeof body === 'object' && body !== null ? body : {}) as {
    instances?: unknown;
    inputs?: unknown;
  };
  if (given.instances !== undefined && given.inputs !== undefined) {
    throw invalid([{ path: '/', message: 'must have "instances" or "inputs", not both' }]);
  }
  const field = given.inputs !== undefined ? 'inputs' : 'instances';
  const instances = given[field];
  if (!Array.isArray(instances) || instances.length === 0) {
    const columnar = field === 'inputs' && typeof instances === 'object' && instances !== null;
    throw invalid([
      {
        path: `/${field}`,
        message: columnar
          ? 'must be a non-empty array of rows (the columnar form, an object of named columns, is not supported)'
          : `must be a non-empty array${field === 'instances' ? ' (or send "inputs")' : ''}`,
      },
    ]);
  }
  const problems: Problem[] = [];
  const rows: unknown[] = instances.map((instance: unknown, i) => {
    if (contract && typeof instance === 'object' && instance !== null && !Array.isArray(instance)) {
      const { row, problems: found } = featuresToRow(contract, instance, `/${field}/${i}`);
      problems.push(...found);
      return row;
    }
    return instance;
  });
  if (problems.length > 0) throw invalid(problems);
  const rowShape = shapeOf(rows[0]);
  rows.forEach((row, i) => {
    const shape = shapeOf(row);
    if (shape === undefined || shape.join() !== rowShape?.join()) {
      problems.push({
        path: `/${field}/${i}`,
        message: 'must be a number array shaped like the first instance',
      });
    }
  });
  if (problems.length > 0 || !rowShape) throw invalid(problems);
  const tensor: RequestInput = {
    name: input.name,
    datatype: input.datatype,
    shape: [rows.length, ...rowShape],
    data: rows.flat(Infinity) as number[],
  };
  return { id: requestId, inputs: [tensor] };
}

/** The shape of nested arrays of numbers/booleans, or undefined when ragged or not numeric. */
function shapeOf(value: unknown): number[] | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return [];
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const inner = shapeOf(value[0]);
  if (inner === undefined) return undefined;
  for (let i = 1; i < value.length; i++) if (shapeOf(value[i])?.join() !== inner.join()) return undefined;
  return [value.length, ...inner];
}

/**
 * POST /v2/models/{model}/infer: an OIP request, checked for its outline and for what is
 * forwarded as it came (parameters, outputs); the tensors are checked against the metadata.
 */
export function inferRequest(body: unknown): InferRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid([{ path: '/', message: 'must be an object with "inputs"' }]);
  }
  const request = body as Partial<InferRequest>;
  if (!Array.isArray(request.inputs) || request.inputs.length === 0) {
    throw invalid([{ path: '/inputs', message: 'must be a non-empty array of tensors' }]);
  }
  if (request.id !== undefined && typeof request.id !== 'string') {
    throw invalid([{ path: '/id', message: 'must be a string' }]);
  }
  const problems = checkForwarded(request as InferRequest);
  if (problems.length > 0) throw invalid(problems);
  return withoutOutputFlags(request as InferRequest);
}

/**
 * The request as the runtime gets it: without the binary tensor extension's output flags
 * (`binary_data_output`, each output's `binary_data`). The runtime answers JSON, which the
 * gateway checks value by value (src/outbound/answer.ts), caches and compares with shadows as it
 * does every answer; the respond stage writes the outputs the client asked for in binary from
 * those values (src/stages/respond). Outputs are a model's small part (a score, class
 * probabilities); the inputs, its large part, go on in binary as they came. A request without
 * the flags is returned as it is, at no cost.
 */
function withoutOutputFlags(request: InferRequest): InferRequest {
  const hasFlag = (parameters: unknown, name: string) =>
    typeof parameters === 'object' && parameters !== null && Object.hasOwn(parameters, name);
  const outputs = Array.isArray(request.outputs) ? request.outputs : undefined;
  const onRequest = hasFlag(request.parameters, 'binary_data_output');
  const onOutputs = outputs?.some((o) => hasFlag(o.parameters, 'binary_data')) ?? false;
  if (!onRequest && !onOutputs) return request;
  const forwarded: InferRequest = { ...request };
  if (onRequest) {
    const { binary_data_output: _asked, ...rest } = request.parameters!;
    if (Object.keys(rest).length > 0) forwarded.parameters = rest;
    else delete forwarded.parameters;
  }
  if (onOutputs) {
    forwarded.outputs = outputs!.map((output) => {
      if (!hasFlag(output.parameters, 'binary_data')) return output;
      const { binary_data: _asked, ...rest } = output.parameters!;
      return Object.keys(rest).length > 0 ? { ...output, parameters: rest } : { name: output.name };
    });
  }
  return forwarded;
}

function invalid(problems: Problem[]) {
  const summary = problems.map((p) => `${p.path} ${p.message}`).join('; ');
  return gatewayError('INPUT_INVALID', summary, { problems });
}
