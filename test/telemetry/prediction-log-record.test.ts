import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContractConfig } from '../../src/contract/config.js';
import { gatewayError } from '../../src/errors.js';
import { inputHash, loggedTensors } from '../../src/telemetry/prediction-log/inputs.js';
import { isoTime, predictionRecord } from '../../src/telemetry/prediction-log/record.js';
import type { ErrorCode } from '../../src/errors.js';

const contract: ContractConfig = {
  input: 'features',
  output: 'score',
  features: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
  decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
};
const redact = new Set(['b']);

test('tensor inputs: redacted feature columns masked in flat and nested data; an unexpected shape masks the whole tensor', () => {
  const flat = { name: 'features', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] };
  const nested = {
    ...flat,
    data: [
      [1, 2, 3],
      [4, 5, 6],
    ],
  };
  const odd = { ...flat, shape: [6], data: [1, 2, 3, 4, 5, 6] };
  const other = { name: 'extra', datatype: 'FP32', shape: [1], data: [9] };
  const masked = [1, '[redacted]', 3, 4, '[redacted]', 6];
  assert.deepEqual(loggedTensors([flat], contract, redact)[0]!.data, masked);
  assert.deepEqual(loggedTensors([nested], contract, redact)[0]!.data, masked);
  assert.equal(loggedTensors([odd], contract, redact)[0]!.data, '[redacted]');
  assert.deepEqual(loggedTensors([other], contract, redact)[0]!.data, [9], 'other tensors as sent');
  assert.equal(
    loggedTensors([other], contract, new Set(['extra']))[0]!.data,
    '[redacted]',
    'a tensor by name',
  );
  assert.deepEqual(loggedTensors([flat], undefined, redact)[0]!.data, flat.data, 'no contract: no columns');
});

test('the input hash depends on the inputs only, not on ids or the outputs asked for', () => {
  const inputs = [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }];
  assert.equal(inputHash(inputs), inputHash(JSON.parse(JSON.stringify(inputs))));
  assert.notEqual(inputHash(inputs), inputHash([{ ...inputs[0]!, data: [1, 2, 4] }]));
});

test('a record keeps small outputs by name and leaves large ones out; errors carry status and code', () => {
  const base = {
    requestId: 'r-1',
    endpoint: 'infer' as const,
    model: 'm',
    tenant: undefined,
    variant: { name: 'v1', upstream: 'u', model: 'm', version: '1', weight: 100 },
    inference: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] },
    body: {},
  };
  const answer = (values: number) => ({
    ok: true as const,
    response: {
      model_name: 'm',
      outputs: [
        { name: 'y', datatype: 'FP32' as const, shape: [values], data: new Array<number>(values).fill(0.5) },
      ],
    },
    variant: 'v1',
    version: '1',
  });
  const model = { log_inputs: false, log_redact: [], contract: undefined };
  const small = predictionRecord({
    ctx: base,
    response: { status: 200, body: {} },
    reply: answer(64),
    model,
    latencyMs: 1.23456,
    at: 0,
  });
  assert.deepEqual(Object.keys(small.outputs!), ['y']);
  assert.equal(small.latency_ms, 1.235);
  assert.equal(small.time, '1970-01-01T00:00:00.000Z');
  assert.ok(!('inputs' in small));
  const large = predictionRecord({
    ctx: base,
    response: { status: 200, body: {} },
    reply: answer(65),
    model,
    latencyMs: 1,
    at: 0,
  });
  assert.equal(large.outputs, null);
  const error = gatewayError('BUDGET_EXHAUSTED');
  const failed = predictionRecord({
    ctx: base,
    response: { status: error.status, body: error.toJSON() },
    reply: { ok: false, error },
    model,
    latencyMs: 250,
    at: 0,
  });
  assert.deepEqual(
    [failed.status, failed.code, failed.outputs, failed.decision],
    [504, 'SWY_ERR_BUDGET_EXHAUSTED' satisfies ErrorCode, null, null],
  );
});

test('a record time is its millisecond in ISO 8601, repeated, new or earlier alike', () => {
  const base = Date.UTC(2026, 10, 24, 0, 59, 59, 998);
  for (const at of [base, base, base + 1, base + 2, base + 2, base - 86_400_000, base, 0]) {
    assert.equal(isoTime(at), new Date(at).toISOString());
  }
});
