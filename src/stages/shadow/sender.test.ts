import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallContext } from '../../outbound/variant-call.js';
import type { Reply } from '../../pipeline/stage.js';
import type { InferRequest, InferResponse } from '../../shared/oip.js';
import { silentLogger } from '../../shared/logger.js';
import { createDeferredTasks, type DeferredTask } from '../../telemetry/deferred.js';
import { createMirrorSender, type MirroredCopy } from './sender.js';

// The sender runs after the requests were answered, in setImmediate and promise callbacks: a
// throw there used to end the gateway (issue 22: JSON.stringify of a 10,000-deep `parameters` in
// the batch key). Here the shadow is a fake VariantCall; the sender is the real one.

const shadow = { name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', percent: 100 };
const request = (rows: number, extra: Partial<InferRequest> = {}): InferRequest => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 2], data: Array(rows * 2).fill(0.5) }],
  ...extra,
});
/** A runtime's answer: one score per row of the request it was sent. */
const scores = (rows: number): InferResponse => ({
  model_name: 'fraud',
  outputs: [{ name: 'score', datatype: 'FP32', shape: [rows, 1], data: Array(rows).fill(0.1) }],
});

function setup(answer: (body: InferRequest) => InferResponse) {
  const failures = new Map<DeferredTask, number>();
  const deferred = createDeferredTasks(
    { inc: ({ task }) => void failures.set(task, (failures.get(task) ?? 0) + 1) },
    silentLogger,
  );
  const calls: InferRequest[] = [];
  const send = createMirrorSender('fraud', shadow, {
    call: async (ctx: CallContext): Promise<Reply> => {
      const body = ctx.inference ?? (JSON.parse(ctx.inferenceText!) as InferRequest);
      calls.push(body);
      return { ok: true, response: answer(body), variant: 'v3', version: '3' };
    },
    budgetMs: 1000,
    maxRows: () => 8,
    observeRows: () => {},
    logger: silentLogger,
    deferred,
  });
  /** Mirrors each request in one turn; resolves with each copy's reply once all settled. */
  const mirror = (inferences: InferRequest[]): Promise<Reply[]> =>
    Promise.all(
      inferences.map(
        (inference, i) =>
          new Promise<Reply>((resolve) => {
            const copy: MirroredCopy = {
              requestId: `r-${i}`,
              inference,
              inferenceText: undefined,
              settle: (reply) => resolve(reply),
            };
            send(copy);
          }),
      ),
    );
  return { mirror, failures, calls };
}

test('a copy whose batch key cannot be written fails alone; the others are sent, nothing escapes', async () => {
  const { mirror, failures, calls } = setup((body) => scores(body.inputs[0]!.shape[0]!));
  const circular: Record<string, unknown> = {};
  circular.self = circular; // JSON.stringify throws on it, as it does on 10,000 levels
  const replies = await mirror([request(1), request(1, { parameters: circular }), request(1)]);
  assert.equal(replies[0]!.ok, true);
  assert.equal(replies[2]!.ok, true);
  assert.equal(replies[1]!.ok, false);
  assert.equal(!replies[1]!.ok && replies[1]!.error.code, 'SWY_ERR_INTERNAL');
  assert.equal(failures.get('shadow_send'), 1);
  assert.equal(calls.length, 1, 'the two good copies shared one call');
  assert.equal(calls[0]!.inputs[0]!.shape[0], 2);
});

test('an input that is not a tensor fails its copy instead of the flush', async () => {
  const { mirror, failures } = setup((body) => scores(body.inputs[0]!.shape[0]!));
  const notATensor = { inputs: [7] } as unknown as InferRequest;
  const replies = await mirror([notATensor, request(1)]);
  assert.equal(replies[0]!.ok, false);
  assert.equal(replies[1]!.ok, true);
  assert.equal(failures.get('shadow_send'), 1);
});

test("a shadow's answer that cannot be split fails every copy of its call, none twice", async () => {
  // A 200 whose output data is not an array: cutting it into rows throws.
  const { mirror, failures } = setup((body) => ({
    model_name: 'fraud',
    outputs: [
      {
        name: 'score',
        datatype: 'FP32',
        shape: [body.inputs[0]!.shape[0]!, 1],
        data: null as unknown as number[],
      },
    ],
  }));
  const replies = await mirror([request(1), request(2)]);
  assert.deepEqual(
    replies.map((reply) => reply.ok),
    [false, false],
  );
  assert.equal(failures.get('shadow_send'), 1);
});

test('a settle that throws is counted, and the copies after it still settle', async () => {
  const deferredFailures = new Map<DeferredTask, number>();
  const deferred = createDeferredTasks(
    { inc: ({ task }) => void deferredFailures.set(task, (deferredFailures.get(task) ?? 0) + 1) },
    silentLogger,
  );
  const send = createMirrorSender('fraud', shadow, {
    call: async () => ({ ok: true, response: scores(2), variant: 'v3', version: '3' }),
    budgetMs: 1000,
    maxRows: () => 8,
    observeRows: () => {},
    logger: silentLogger,
    deferred,
  });
  const settled = new Promise<Reply>((resolve) => {
    send({
      requestId: 'a',
      inference: request(1),
      inferenceText: undefined,
      settle: () => {
        throw new Error('comparison failed');
      },
    });
    send({ requestId: 'b', inference: request(1), inferenceText: undefined, settle: resolve });
  });
  assert.equal((await settled).ok, true);
  assert.equal(deferredFailures.get('shadow_compare'), 1);
});
