import type { InferRequest, InferResponse, ModelMetadata } from '../../shared/oip.js';

/**
 * Mirrored copies bound for one shadow in the same turn of the event loop travel as one request
 * whose rows are the copies' rows end to end, and the shadow's answer is cut back into one answer
 * per copy. A copy then costs its rows, not an HTTP exchange of its own.
 */

/**
 * How many rows one mirrored request may carry: the configured cap, bounded by the batch size the
 * runtime states (`parameters.max_batch_size`, as switchyard's runtime does), and 1 — each copy
 * alone — unless every input and output of the shadow's model has a variable first dimension. A
 * variable first dimension alone does not make it the batch dimension (a sequence model's tokens),
 * so a runtime that does not state a batch size gets copies one at a time.
 */
export function batchRowsFor(metadata: ModelMetadata | undefined, configuredMaxRows: number): number {
  if (!metadata || configuredMaxRows <= 1) return 1;
  const stated = metadata.parameters?.max_batch_size;
  if (typeof stated !== 'number' || !Number.isInteger(stated) || stated <= 1) return 1;
  const variableFirst = (tensor: { shape: number[] }) => tensor.shape[0] === -1;
  if (!metadata.inputs.every(variableFirst) || !metadata.outputs.every(variableFirst)) return 1;
  return Math.min(configuredMaxRows, stated);
}

/**
 * The rows of a request that can share a batch, with the key of the requests it can share one
 * with (same inputs, datatypes, row shapes, outputs asked for and parameters); undefined when it
 * must go alone: no inputs, inputs that disagree on their row count, or data not flat.
 */
export function batchKey(request: InferRequest): { key: string; rows: number } | undefined {
  const rows = request.inputs[0]?.shape[0];
  if (rows === undefined || !Number.isInteger(rows) || rows < 1) return undefined;
  let key = '';
  for (const input of request.inputs) {
    if (input.shape[0] !== rows || input.data.length !== elementCount(input.shape)) return undefined;
    if (input.parameters !== undefined) return undefined;
    key += `${input.name}:${input.datatype}:${input.shape.slice(1).join('x')};`;
  }
  if (request.outputs !== undefined || request.parameters !== undefined) {
    key += JSON.stringify([request.outputs, request.parameters]);
  }
  return { key, rows };
}

/** Requests of one key, as one request: each input's data end to end, its first dimension summed. */
export function mergeRequests(requests: readonly InferRequest[]): InferRequest {
  const first = requests[0]!;
  const inputs = first.inputs.map((input, index) => {
    const data: unknown[] = [];
    let rows = 0;
    for (const request of requests) {
      const part = request.inputs[index]!;
      rows += part.shape[0]!;
      for (const value of part.data) data.push(value);
    }
    return { ...input, shape: [rows, ...input.shape.slice(1)], data: data as number[] };
  });
  const merged: InferRequest = { inputs };
  if (first.outputs !== undefined) merged.outputs = first.outputs;
  if (first.parameters !== undefined) merged.parameters = first.parameters;
  return merged;
}

/**
 * The answer to a merged request, cut back into one answer per request (`rows` in their order);
 * undefined when some output's first dimension is not the total of the rows, so the answer can't
 * be attributed row by row.
 */
export function splitResponse(response: InferResponse, rows: readonly number[]): InferResponse[] | undefined {
  const total = rows.reduce((sum, n) => sum + n, 0);
  for (const output of response.outputs) {
    if (output.shape[0] !== total || output.data.length !== elementCount(output.shape)) return undefined;
  }
  const parts: InferResponse[] = [];
  let row = 0;
  for (const count of rows) {
    const outputs = response.outputs.map((output) => {
      const width = output.data.length / total;
      return {
        ...output,
        shape: [count, ...output.shape.slice(1)],
        data: output.data.slice(row * width, (row + count) * width) as number[],
      };
    });
    parts.push({ ...response, outputs });
    row += count;
  }
  return parts;
}

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}
