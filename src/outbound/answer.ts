import type { ContractConfig } from '../contract/config.js';
import {
  batchDimension,
  valueCheck,
  type InferRequest,
  type InferResponse,
  type ModelMetadata,
  type TensorMetadata,
} from '../shared/oip.js';

/** What an answer of one variant must fit, besides the request it answers. */
export interface AnswerSpec {
  /** The variant's model version as its runtime describes it, once fetched. */
  metadata: ModelMetadata | undefined;
  /** The model's contract: its output is a score within the thresholds' range [0, 1]. */
  contract: ContractConfig | undefined;
}

/**
 * A runtime's 200, read and checked against the request and the model: the outputs asked for (or
 * every output of the model), each once, with the model's datatype and shape, the request's rows,
 * as many values as the shape holds, each a finite value of its datatype, and a contract's score
 * within [0, 1]. Anything else is the endpoint's failure, never a caller's answer: a runtime that
 * answers garbage with 200 would otherwise become a confident decision (an empty `outputs` made
 * "approve" with a null score; 7.5 made "decline").
 */
export function readAnswer(
  text: string,
  request: InferRequest | undefined,
  spec: AnswerSpec,
): { response: InferResponse; problem?: undefined } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'the body is not JSON' };
  }
  const problem = answerProblem(value, request, spec);
  return problem === undefined ? { response: value as InferResponse } : { problem };
}

/** What a model version's metadata says of every answer, worked out once per metadata. */
interface ModelFacts {
  outputNames: readonly string[];
  batched: boolean;
}
const factsOf = new WeakMap<ModelMetadata, ModelFacts>();

function modelFacts(metadata: ModelMetadata): ModelFacts {
  let facts = factsOf.get(metadata);
  if (!facts) {
    facts = { outputNames: metadata.outputs.map((t) => t.name), batched: !!batchDimension(metadata) };
    factsOf.set(metadata, facts);
  }
  return facts;
}

function answerProblem(
  value: unknown,
  request: InferRequest | undefined,
  spec: AnswerSpec,
): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const outputs = (value as { outputs?: unknown }).outputs;
  if (!Array.isArray(outputs) || outputs.length === 0) return '"outputs" is not a non-empty array';
  const { metadata, contract } = spec;
  const facts = metadata && modelFacts(metadata);
  const wanted = wantedOutputs(request, facts, contract);
  const rows = facts?.batched ? request?.inputs[0]?.shape[0] : undefined;
  // An answer has a handful of outputs: arrays beat sets here.
  const seen: string[] = [];
  for (let i = 0; i < outputs.length; i++) {
    const output: unknown = outputs[i];
    if (typeof output !== 'object' || output === null) return `outputs[${i}] is not an object`;
    const { name, datatype, shape, data } = output as Record<string, unknown>;
    if (typeof name !== 'string') return `outputs[${i}].name is not a string`;
    if (seen.includes(name)) return `outputs[${i}]: "${name}" is given twice`;
    seen.push(name);
    const model = metadata?.outputs.find((t) => t.name === name);
    if (metadata && !model) return `outputs[${i}]: the model has no output "${name}"`;
    if (wanted.only && !wanted.only.includes(name)) return `outputs[${i}]: "${name}" was not asked for`;
    const problem =
      tensorProblem(datatype, shape, data, model, rows) ??
      (name === contract?.output ? scoreProblem(data as unknown[]) : undefined);
    if (problem) return `outputs[${i}] ("${name}"): ${problem}`;
  }
  for (const name of wanted.required) if (!seen.includes(name)) return `output "${name}" is missing`;
  return undefined;
}

const NOTHING: readonly string[] = [];

/**
 * The outputs the answer must hold: those asked for, or else every output of the model; when
 * neither is known, at least a contract's output (it is what the answer is read for). A call
 * made from the request's text alone (a shadow's copies) only knows the model's outputs.
 */
function wantedOutputs(
  request: InferRequest | undefined,
  facts: ModelFacts | undefined,
  contract: ContractConfig | undefined,
): { required: readonly string[]; only?: readonly string[] } {
  const modelOutputs = facts?.outputNames;
  if (!request) return { required: NOTHING, only: modelOutputs };
  const asked = Array.isArray(request.outputs) ? request.outputs.map((o) => o.name) : modelOutputs;
  if (asked) return { required: asked, only: asked };
  return { required: contract ? [contract.output] : NOTHING };
}

function tensorProblem(
  datatype: unknown,
  shape: unknown,
  data: unknown,
  model: TensorMetadata | undefined,
  rows: number | undefined,
): string | undefined {
  if (typeof datatype !== 'string') return 'datatype is not a string';
  if (model && datatype !== model.datatype) return `datatype ${datatype}, the model's is ${model.datatype}`;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return 'shape is not an array of non-negative integers';
  }
  if (
    model &&
    (shape.length !== model.shape.length || model.shape.some((d, i) => d !== -1 && d !== shape[i]))
  ) {
    return `shape [${shape.join(', ')}] does not fit the model's [${model.shape.join(', ')}]`;
  }
  if (rows !== undefined && shape[0] !== rows) return `${shape[0]} rows for a request of ${rows}`;
  // Flat, as the stages after this read it (a prediction is a slice of the data).
  if (!Array.isArray(data)) return 'data is not an array';
  const needed = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== needed) return `${data.length} values for shape [${shape.join(', ')}]`;
  const fits = valueCheck(datatype);
  for (let i = 0; i < data.length; i++) {
    if (!fits(data[i])) return `data[${i}] is ${JSON.stringify(data[i])}, not a ${datatype} value`;
  }
  return undefined;
}

/**
 * A contract's thresholds are between 0 and 1 (its schema), so its score is too: a score outside
 * says the runtime serves something else, and would make a decision no threshold was meant for.
 */
function scoreProblem(data: unknown[]): string | undefined {
  for (let i = 0; i < data.length; i++) {
    const score = data[i] as number;
    if (!(score >= 0 && score <= 1)) return `score ${score} at data[${i}] is outside [0, 1]`;
  }
  return undefined;
}
