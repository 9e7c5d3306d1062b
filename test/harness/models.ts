import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { Datatype } from '../../src/shared/oip.js';

const { onnx } = onnxProto;

const ONNX_TYPE: Record<Datatype, number> = {
  FP32: onnx.TensorProto.DataType.FLOAT,
  FP64: onnx.TensorProto.DataType.DOUBLE,
  INT32: onnx.TensorProto.DataType.INT32,
  INT64: onnx.TensorProto.DataType.INT64,
  BOOL: onnx.TensorProto.DataType.BOOL,
};

/** Inputs `in_<type>` [N, 2] of every served datatype, each passed through to `out_<type>`. */
export const TYPES_MODEL_DATATYPES: readonly Datatype[] = ['FP32', 'FP64', 'INT32', 'INT64', 'BOOL'];

function value(name: string, datatype: Datatype): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: ONNX_TYPE[datatype], shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 }] } },
    },
  };
}

/** Writes model `types` (one version) into a repository folder, config.yaml with its sha256 included. */
export async function writeTypesModel(repository: string): Promise<void> {
  const lower = (d: Datatype): string => d.toLowerCase();
  const model: OnnxTypes.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'switchyard-tests',
    graph: {
      name: 'types',
      node: TYPES_MODEL_DATATYPES.map((d) => ({
        opType: 'Identity',
        input: [`in_${lower(d)}`],
        output: [`out_${lower(d)}`],
      })),
      input: TYPES_MODEL_DATATYPES.map((d) => value(`in_${lower(d)}`, d)),
      output: TYPES_MODEL_DATATYPES.map((d) => value(`out_${lower(d)}`, d)),
    },
  };
  const bytes = onnx.ModelProto.encode(model).finish();
  await mkdir(join(repository, 'types', '1'), { recursive: true });
  await writeFile(join(repository, 'types', '1', 'model.onnx'), bytes);
  const tensors = (prefix: string): string =>
    TYPES_MODEL_DATATYPES.map((d) => `  - { name: ${prefix}_${lower(d)}, datatype: ${d}, dims: [2] }`).join(
      '\n',
    );
  await writeFile(
    join(repository, 'types', 'config.yaml'),
    [
      'name: types',
      'max_batch_size: 8',
      'inputs:',
      tensors('in'),
      'outputs:',
      tensors('out'),
      'versions:',
      `  "1": { sha256: ${createHash('sha256').update(bytes).digest('hex')} }`,
      '',
    ].join('\n'),
  );
}
