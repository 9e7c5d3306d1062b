import { endianness } from 'node:os';
import type { Datatype } from '../../src/shared/oip.js';
import { badRequest } from './errors.js';
import { allocate, type Tensor, type TypedData } from './tensors.js';

/**
 * Tensors as raw bytes: the Open Inference Protocol's gRPC `raw_input_contents` and
 * `raw_output_contents` (kserve/open-inference-protocol, specification/protocol/inference_grpc.md,
 * "Tensor Data"): the elements flattened in row-major order without padding, each in its
 * datatype's size from the protocol's table, little-endian (as Triton and KServe write them).
 */
export const ELEMENT_BYTES: Record<Datatype, number> = { BOOL: 1, INT32: 4, INT64: 8, FP32: 4, FP64: 8 };

const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/**
 * A tensor's data from its raw bytes, refused (400) unless the bytes are exactly `length`
 * elements. One copy into a fresh, aligned typed array, no element passes through a JS number;
 * BOOL bytes must each be 0 or 1, as JSON's booleans are. Floats are taken as they come: the
 * bytes carry NaN and infinities, and the answer (raw too) can carry what they make.
 */
export function tensorDataFromBytes(
  bytes: Uint8Array,
  datatype: Datatype,
  length: number,
  path: string,
): TypedData {
  const size = ELEMENT_BYTES[datatype];
  if (bytes.byteLength !== length * size) {
    throw badRequest(
      `${path}: raw contents of ${bytes.byteLength} bytes, where ${length} ${datatype} values of ${size} bytes need ${length * size}`,
    );
  }
  const data = allocate(datatype, length);
  const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  target.set(bytes);
  if (!HOST_IS_LITTLE_ENDIAN && size > 1) swapBytes(target, size);
  if (datatype === 'BOOL') {
    for (let i = 0; i < target.length; i++) {
      if (target[i]! > 1) throw badRequest(`${path}: byte ${i} is ${target[i]}, not a BOOL (0 or 1)`);
    }
  }
  return data;
}

/**
 * Rows `row` to `row + rows` of a run's tensor that had `runRows` rows, as raw bytes: a view of
 * the run's own memory, not a copy, on a little-endian host.
 */
export function rowsAsBytes(tensor: Tensor, runRows: number, row: number, rows: number): Buffer {
  const { data } = tensor;
  const rowSize = data.length / runRows;
  const width = data.BYTES_PER_ELEMENT;
  const view = Buffer.from(data.buffer, data.byteOffset + row * rowSize * width, rows * rowSize * width);
  if (HOST_IS_LITTLE_ENDIAN || width === 1) return view;
  const copy = Buffer.from(view);
  swapBytes(copy, width);
  return copy;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let at = 0; at < bytes.length; at += size) bytes.subarray(at, at + size).reverse();
}
