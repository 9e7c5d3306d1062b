import type { ContractConfig } from '../../contract/config.js';
import type { Problem } from '../../errors.js';
import {
  batchDimension,
  valueCheck,
  type InferRequest,
  type ModelMetadata,
  type TensorMetadata,
} from '../../shared/oip.js';
import { binaryOf } from '../../shared/binary-tensors.js';

/**
 * Checks an OIP request's tensors against the runtime's metadata before anything is sent:
 * names, datatypes, shapes (−1 matches any size), the number of values and each value's range,
 * the rows of a batch, and the outputs asked for. Every problem is listed with its JSON-pointer
 * path. What passes here the runtime takes: a request it refuses would cost the caller a round
 * trip, and a request it fails on would count against a healthy runtime.
 */
export function checkTensors(request: InferRequest, metadata: ModelMetadata): Problem[] {
  const problems: Problem[] = [];
  const expected = new Map(metadata.inputs.map((t) => [t.name, t]));
  const seen = new Set<string>();
  const rows: { path: string; rows: number }[] = [];
  request.inputs.forEach((input, index) => {
    const path = `/inputs/${index}`;
    if (typeof input !== 'object' || input === null) {
      problems.push({ path, message: 'must be a tensor object' });
      return;
    }
    if (typeof input.name !== 'string') {
      problems.push({ path: `${path}/name`, message: 'must be a string' });
      return;
    }
    const spec = expected.get(input.name);
    if (!spec) {
      problems.push({
        path: `${path}/name`,
        message: `the model has no input "${input.name}" (it takes ${[...expected.keys()].join(', ')})`,
      });
      return;
    }
    if (seen.has(input.name))
      problems.push({ path: `${path}/name`, message: `"${input.name}" is given twice` });
    seen.add(input.name);
    if (input.datatype !== spec.datatype) {
      problems.push({
        path: `${path}/datatype`,
        message: `expected ${spec.datatype}, got ${JSON.stringify(input.datatype)}`,
      });
    }
    const shapeOk = checkShape(input.shape, spec, `${path}/shape`, problems);
    if (shapeOk) rows.push({ path: `${path}/shape`, rows: input.shape[0]! });
    const bytes = binaryOf(input);
    if (bytes !== undefined) {
      // Its size was checked against its shape and datatype when the body was parsed; the values
      // are not decoded (the runtime takes any bit pattern of a number type), except BOOL's
      // bytes, which the extension allows only as 1 or 0.
      if (input.datatype === 'BOOL') checkBoolBytes(bytes, `${path}`, problems);
      return;
    }
    if (!Array.isArray(input.data)) {
      problems.push({ path: `${path}/data`, message: 'must be an array' });
      return;
    }
    const counted = countValues(input.data, spec.datatype, `${path}/data`, problems);
    if (shapeOk && counted !== undefined) {
      const needed = input.shape.reduce((a, b) => a * b, 1);
      if (counted !== needed) {
        problems.push({
          path: `${path}/data`,
          message: `${counted} values for shape [${input.shape.join(', ')}], which needs ${needed}`,
        });
      }
    }
  });
  for (const name of expected.keys()) {
    if (!seen.has(name)) problems.push({ path: '/inputs', message: `missing input "${name}"` });
  }
  const batch = batchDimension(metadata);
  if (batch) checkRows(rows, batch.maxRows, problems);
  checkOutputNames(request.outputs, metadata, problems);
  return problems;
}

function checkShape(
  shape: unknown,
  spec: TensorMetadata,
  path: string,
  problems: Problem[],
): shape is number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    problems.push({ path, message: 'must be an array of non-negative integers' });
    return false;
  }
  const fits = shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === shape[i]);
  if (!fits) {
    const want = spec.shape.map((d) => (d === -1 ? 'N' : String(d))).join(', ');
    problems.push({ path, message: `[${shape.join(', ')}] does not fit the model's [${want}]` });
  }
  return fits;
}

/**
 * A batch is every input's first dimension: at least one row, the same for every input, and at
 * most the runtime's `max_batch_size` (0: no limit), as the runtime itself requires.
 */
function checkRows(rows: { path: string; rows: number }[], maxRows: number, problems: Problem[]): void {
  const first = rows[0];
  for (const given of rows) {
    if (given.rows === 0) {
      problems.push({ path: given.path, message: 'a batch needs at least one row' });
    } else if (maxRows > 0 && given.rows > maxRows) {
      problems.push({
        path: given.path,
        message: `batch of ${given.rows} rows is above the model's max_batch_size ${maxRows}`,
      });
    } else if (given.rows !== first!.rows) {
      problems.push({
        path: given.path,
        message: `${given.rows} rows where ${first!.path} has ${first!.rows}`,
      });
    }
  }
}

/** The outputs asked for (their form is checked in protocol.ts) are the model's. */
function checkOutputNames(outputs: unknown, metadata: ModelMetadata, problems: Problem[]): void {
  if (!Array.isArray(outputs)) return;
  outputs.forEach((output: unknown, index) => {
    const name = (output as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && !metadata.outputs.some((t) => t.name === name)) {
      problems.push({
        path: `/outputs/${index}/name`,
        message: `the model has no output "${name}" (it has ${metadata.outputs.map((t) => t.name).join(', ')})`,
      });
    }
  });
}

/** Counts the values of flat or nested data, reporting the first few that are not of the datatype. */
function countValues(
  data: unknown[],
  datatype: string,
  path: string,
  problems: Problem[],
): number | undefined {
  let count = 0;
  let bad = 0;
  const fits = valueCheck(datatype);
  const visit = (values: unknown[]): void => {
    for (const value of values) {
      if (Array.isArray(value)) {
        visit(value);
        continue;
      }
      if (!fits(value) && bad++ < 3)
        problems.push({
          path: `${path}/${count}`,
          message: `${typeof value === 'number' ? String(value) : JSON.stringify(value)} is not a ${datatype} value`,
        });
      count++;
    }
  };
  visit(data);
  return bad === 0 ? count : undefined;
}

/** The extension's BOOL is one byte, 1 (true) or 0 (false): the first few others are problems. */
function checkBoolBytes(bytes: Buffer, path: string, problems: Problem[]): void {
  let bad = 0;
  for (let i = 0; i < bytes.length && bad < 3; i++) {
    if (bytes[i]! > 1) {
      bad++;
      problems.push({ path: `${path}/binary/${i}`, message: `byte ${bytes[i]} is not a BOOL (1 or 0)` });
    }
  }
}

/** The bytes of a request's binary inputs in the inputs' order; undefined when every input is JSON. */
export function binaryTensors(request: InferRequest): Buffer[] | undefined {
  let tensors: Buffer[] | undefined;
  for (const input of request.inputs) {
    const bytes = binaryOf(input);
    if (bytes !== undefined) (tensors ??= []).push(bytes);
  }
  return tensors;
}

/** Why the runtime's model cannot serve this contract, or undefined when it can. */
export function contractMismatch(contract: ContractConfig, metadata: ModelMetadata): string | undefined {
  const input = metadata.inputs.find((t) => t.name === contract.input);
  if (!input)
    return `the runtime's model has no input "${contract.input}" (it has ${metadata.inputs.map((t) => t.name).join(', ')})`;
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64')
    return `input "${contract.input}" is ${input.datatype}; the contract sends numbers`;
  const width = input.shape.length === 2 ? input.shape[1] : undefined;
  if (width !== contract.features.length && width !== -1) {
    return `input "${contract.input}" has shape [${input.shape.join(', ')}] but the contract lists ${contract.features.length} features`;
  }
  if (!metadata.outputs.some((t) => t.name === contract.output)) {
    return `the runtime's model has no output "${contract.output}" (it has ${metadata.outputs.map((t) => t.name).join(', ')})`;
  }
  return undefined;
}
