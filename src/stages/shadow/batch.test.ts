import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InferRequest, InferResponse, ModelMetadata } from '../../shared/oip.js';
import { batchKey, batchRowsFor, mergeRequests, splitResponse } from './batch.js';

const metadata = (fields: Partial<ModelMetadata> = {}): ModelMetadata => ({
  name: 'fraud',
  versions: ['3'],
  platform: 'onnxruntime',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2] }],
  outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
  parameters: { max_batch_size: 64 },
  ...fields,
});

const request = (rows: number[][], extra: Partial<InferRequest> = {}): InferRequest => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 2], data: rows.flat() }],
  ...extra,
});

test('rows per mirrored call: the configured cap within the batch size the runtime states', () => {
  assert.equal(batchRowsFor(metadata(), 32), 32);
  assert.equal(batchRowsFor(metadata({ parameters: { max_batch_size: 8 } }), 32), 8);
  assert.equal(batchRowsFor(metadata(), 1), 1, 'configured off');
  assert.equal(batchRowsFor(undefined, 32), 1, 'metadata not fetched yet');
  assert.equal(batchRowsFor(metadata({ parameters: {} }), 32), 1, 'no batch size stated (KServe, Triton)');
  assert.equal(batchRowsFor(metadata({ parameters: { max_batch_size: 1 } }), 32), 1);
  assert.equal(batchRowsFor(metadata({ parameters: { max_batch_size: '64' } }), 32), 1);
  const fixedInput = metadata({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 2] }] });
  assert.equal(batchRowsFor(fixedInput, 32), 1, 'an input without a variable first dimension');
  const fixedOutput = metadata({ outputs: [{ name: 'score', datatype: 'FP32', shape: [3] }] });
  assert.equal(batchRowsFor(fixedOutput, 32), 1, 'an output without a variable first dimension');
});

test('copies share a key only when their inputs, row shapes, outputs and parameters agree', () => {
  const one = batchKey(request([[1, 2]]));
  assert.deepEqual(one && { rows: one.rows }, { rows: 1 });
  assert.equal(
    batchKey(
      request([
        [3, 4],
        [5, 6],
      ]),
    )?.key,
    one!.key,
    'row count is not part of the key',
  );
  assert.equal(
    batchKey(
      request([
        [3, 4],
        [5, 6],
      ]),
    )?.rows,
    2,
  );
  const wider: InferRequest = {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
  };
  assert.notEqual(batchKey(wider)?.key, one!.key);
  const asked = request([[1, 2]], { outputs: [{ name: 'score' }] });
  assert.notEqual(batchKey(asked)?.key, one!.key);
  assert.equal(batchKey(request([[1, 2]], { parameters: { p: 1 } }))?.key === one!.key, false);

  // Must go alone: nested data, inputs with different row counts, no inputs, input parameters.
  const nested: InferRequest = {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 2], data: [[1, 2]] }],
  };
  assert.equal(batchKey(nested), undefined);
  const disagreeing: InferRequest = {
    inputs: [
      { name: 'a', datatype: 'FP32', shape: [2, 1], data: [1, 2] },
      { name: 'b', datatype: 'FP32', shape: [1, 2], data: [1, 2] },
    ],
  };
  assert.equal(batchKey(disagreeing), undefined);
  assert.equal(batchKey({ inputs: [] }), undefined);
  const withParameters = request([[1, 2]]);
  withParameters.inputs[0]!.parameters = { binary_data: false };
  assert.equal(batchKey(withParameters), undefined);
});

test('merged copies keep their rows in order, and the answer is cut back row by row', () => {
  const parts = [
    request([[1, 2]]),
    request([
      [3, 4],
      [5, 6],
    ]),
    request([[7, 8]]),
  ];
  const merged = mergeRequests(parts);
  assert.deepEqual(merged.inputs, [
    { name: 'features', datatype: 'FP32', shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] },
  ]);
  const answer: InferResponse = {
    model_name: 'fraud',
    model_version: '3',
    outputs: [
      { name: 'score', datatype: 'FP32', shape: [4, 1], data: [0.1, 0.2, 0.3, 0.4] },
      { name: 'pair', datatype: 'INT64', shape: [4, 2], data: [1, 1, 2, 2, 3, 3, 4, 4] },
    ],
  };
  const split = splitResponse(answer, [1, 2, 1]);
  assert.deepEqual(
    split?.map((part) => part.outputs.map((o) => [o.shape, o.data])),
    [
      [
        [[1, 1], [0.1]],
        [
          [1, 2],
          [1, 1],
        ],
      ],
      [
        [
          [2, 1],
          [0.2, 0.3],
        ],
        [
          [2, 2],
          [2, 2, 3, 3],
        ],
      ],
      [
        [[1, 1], [0.4]],
        [
          [1, 2],
          [4, 4],
        ],
      ],
    ],
  );
  assert.equal(split?.[1]?.model_version, '3');
  // An answer without a row per row sent can't be attributed.
  assert.equal(
    splitResponse({ ...answer, outputs: [{ ...answer.outputs[0]!, shape: [1, 1], data: [0.1] }] }, [1, 2, 1]),
    undefined,
  );
  assert.equal(splitResponse(answer, [1, 1]), undefined);
  const short = { ...answer.outputs[0]!, data: [0.1, 0.2] };
  assert.equal(splitResponse({ ...answer, outputs: [short] }, [1, 2, 1]), undefined);
});
