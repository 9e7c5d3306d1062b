import type {
  InferOutputTensor,
  InferTensorContents,
  ModelInferResponse,
} from '../../../src/shared/grpc/inference.js';
import type { InferAnswer } from '../infer.js';
import { rowsAsBytes } from '../raw-tensor.js';
import type { Tensor } from '../tensors.js';

/**
 * One request's rows of a run as a ModelInferResponse (inference_grpc.md, "Inference"). `raw`:
 * every output's bytes in `raw_output_contents`, in the order of `outputs` — what a request that
 * sent raw_input_contents gets back, as Triton's clients read it; otherwise each output's values
 * in its `contents` field. Protobuf carries NaN and infinities, so unlike JSON nothing is refused.
 */
export function grpcAnswer(answer: InferAnswer, raw: boolean): ModelInferResponse {
  const { batch, row, rows } = answer;
  const outputs: InferOutputTensor[] = [];
  const rawContents: Buffer[] = [];
  for (const spec of answer.outputs) {
    const tensor = batch.outputs.get(spec.name)!;
    const output: InferOutputTensor = {
      name: spec.name,
      datatype: spec.datatype,
      shape: [rows, ...tensor.dims.slice(1)],
    };
    if (raw) rawContents.push(rowsAsBytes(tensor, batch.rows, row, rows));
    else output.contents = typedContents(spec.datatype, tensor, batch.rows, row, rows);
    outputs.push(output);
  }
  return {
    model_name: answer.model,
    model_version: answer.version,
    id: answer.id ?? '',
    outputs,
    raw_output_contents: rawContents,
  };
}

function typedContents(
  datatype: string,
  tensor: Tensor,
  runRows: number,
  row: number,
  rows: number,
): Partial<InferTensorContents> {
  const rowSize = tensor.data.length / runRows;
  const values = tensor.data.subarray(row * rowSize, (row + rows) * rowSize);
  switch (datatype) {
    case 'BOOL':
      return { bool_contents: Array.from(values as Uint8Array, (value) => value !== 0) };
    case 'INT32':
      return { int_contents: Array.from(values as Int32Array) };
    case 'INT64':
      return { int64_contents: Array.from(values as BigInt64Array, (value) => Number(value)) };
    case 'FP64':
      return { fp64_contents: Array.from(values as Float64Array) };
    default:
      return { fp32_contents: Array.from(values as Float32Array) };
  }
}
