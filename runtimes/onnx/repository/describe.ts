import { DATATYPES, type Datatype } from '../../../src/shared/oip.js';
import { openSession } from '../session.js';
import { ORT_TYPE } from '../tensors.js';
import type { TensorConfig } from './config.js';

/** What config.yaml says of a model file, read from the file itself. */
export interface OnnxSignature {
  inputs: TensorConfig[];
  outputs: TensorConfig[];
  /**
   * Whether every tensor's first dimension is free (symbolic or -1): the rows of a batch, which
   * the batcher may merge. A first dimension fixed at 1 takes one row per run (max_batch_size 0).
   */
  batched: boolean;
  /** Why a tensor cannot be described as the runtime serves it; empty when all can. */
  problems: string[];
}

const DATATYPE_OF = new Map<string, Datatype>(DATATYPES.map((d) => [ORT_TYPE[d], d]));

/**
 * Opens the model with ONNX Runtime (CPU) and reads its inputs and outputs as config.yaml lists
 * them: the runtime's datatypes, and `dims` without the first (batch) dimension, as Triton's model
 * configuration does when batching (config.ts). Used by `switchyard model init`.
 */
export async function describeOnnxModel(bytes: Uint8Array): Promise<OnnxSignature> {
  const { session } = await openSession(bytes, ['cpu'], 0);
  try {
    const problems: string[] = [];
    const firstDims: (number | string)[] = [];
    const describe = (kind: string, list: typeof session.inputMetadata): TensorConfig[] =>
      list.flatMap((value) => {
        if (!value.isTensor) {
          problems.push(`${kind} "${value.name}" is not a tensor`);
          return [];
        }
        const datatype = DATATYPE_OF.get(value.type);
        if (!datatype) {
          problems.push(
            `${kind} "${value.name}" is ${value.type}; the runtime serves ${DATATYPES.join(', ')}`,
          );
          return [];
        }
        const [first, ...rest] = value.shape;
        if (first === undefined) {
          problems.push(`${kind} "${value.name}" has no dimensions (a scalar): the first must be the rows`);
          return [];
        }
        firstDims.push(first);
        const free = rest.findIndex((d) => typeof d !== 'number' || d < 1);
        if (free >= 0) {
          problems.push(
            `${kind} "${value.name}" has a free dimension ${free + 1} (${String(rest[free])}): ` +
              `give its dims with --${kind} ${value.name}:${datatype}:D1,D2,…`,
          );
          return [];
        }
        return [{ name: value.name, datatype, dims: rest as number[] }];
      });
    const inputs = describe('input', session.inputMetadata);
    const outputs = describe('output', session.outputMetadata);
    const isFree = (d: number | string) => typeof d !== 'number' || d < 1;
    for (const d of firstDims) {
      if (!isFree(d) && d !== 1) {
        problems.push(
          `a first dimension is fixed at ${d}: the runtime serves models whose first dimension is the rows`,
        );
        break;
      }
    }
    return { inputs, outputs, batched: firstDims.every(isFree), problems };
  } finally {
    await session.release();
  }
}
