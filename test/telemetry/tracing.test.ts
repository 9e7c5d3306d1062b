import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AUTH, decisionBody } from '../harness/gateway.js';
import { fraudRows } from '../harness/fraud.js';
import { postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import {
  clearOtelEnvironment,
  idOf,
  one,
  parentOf,
  startInProcess,
  tracingInMemory,
} from './tracing-harness.js';
import type { ErrorCode } from '../../src/errors.js';

clearOtelEnvironment();

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CLOCK_MS = 2;
const STAGES = ['respond', 'auth', 'admission', 'validate', 'route', 'fallback', 'upstream'];

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};
const ms = (time: [number, number]) => time[0] * 1000 + time[1] / 1e6;

test('one decision is one trace from the gateway through the runtime', async (t) => {
  const { exporter, tracing } = tracingInMemory();
  assert.equal(tracing.enabled, true);
  // v2 names a version the runtime does not have, so a request forced onto it is answered by the
  // variant fallback: the trace then shows both runtime calls.
  const running = await startInProcess({
    model: {
      variants: [
        { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 100 },
        { name: 'v2', upstream: 'onnx', model: 'fraud', version: '9', weight: 0 },
      ],
      fallback: [{ variant: 'v1' }],
    },
  });
  t.after(async () => {
    await running.stop();
    await tracing.shutdown();
  });
  const { gateway, client } = running;
  const rows = fraudRows(4);

  await t.test(
    'stage spans under the root, the runtime call under upstream, the runtime under that',
    async () => {
      exporter.reset();
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[0]!, 'u-1'),
        {
          ...AUTH,
          traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
        },
      );
      assert.equal(response.status, 200, response.text);
      const spans = await waitFor('the runtime spans', () => {
        const done = exporter.getFinishedSpans();
        return done.some((s) => s.name === 'runtime.session_run') &&
          done.some((s) => s.name === 'switchyard.request')
          ? done
          : undefined;
      });

      // One trace: the caller's, continued.
      assert.deepEqual([...new Set(spans.map((s) => s.spanContext().traceId))], [CALLER_TRACE]);

      const root = one(spans, 'switchyard.request');
      assert.equal(root.kind, SpanKind.SERVER);
      assert.equal(parentOf(root), CALLER_SPAN);
      assert.equal(root.attributes['switchyard.model'], 'fraud');
      assert.equal(root.attributes['switchyard.endpoint'], 'decision');
      assert.equal(root.attributes['switchyard.variant'], header(response.headers, 'x-switchyard-variant'));
      assert.equal(
        root.attributes['switchyard.version'],
        header(response.headers, 'x-switchyard-model-version'),
      );
      assert.equal(root.attributes['switchyard.request_id'], header(response.headers, 'x-request-id'));
      assert.equal(root.attributes['http.response.status_code'], 200);
      assert.equal(root.attributes['switchyard.fallback.kind'], undefined);
      // The response names the gateway's span, so the caller can find the trace.
      assert.equal(header(response.headers, 'traceparent'), `00-${CALLER_TRACE}-${idOf(root)}-01`);

      for (const name of STAGES) {
        const stage = one(spans, name);
        assert.equal(parentOf(stage), idOf(root), `${name} is a child of the request span`);
        assert.equal(stage.attributes['switchyard.model'], 'fraud');
        const self = stage.attributes['switchyard.stage.self_ms'];
        assert.ok(
          typeof self === 'number' && self >= 0 && self <= ms(stage.duration) + 0.001,
          `${name} self time`,
        );
      }
      assert.equal(one(spans, 'route').attributes['switchyard.variant'], 'v1');

      const upstream = one(spans, 'upstream');
      const call = one(spans, 'upstream.call');
      assert.equal(call.kind, SpanKind.CLIENT);
      assert.equal(parentOf(call), idOf(upstream));
      assert.equal(call.attributes['switchyard.variant'], 'v1');
      assert.equal(call.attributes['switchyard.version'], '1');
      assert.equal(call.attributes['http.response.status_code'], 200);
      assert.ok(Number(call.attributes['switchyard.batch_size']) >= 1, 'batch size from the runtime');

      const infer = one(spans, 'runtime.infer');
      assert.equal(infer.kind, SpanKind.SERVER);
      assert.equal(parentOf(infer), idOf(call), 'the runtime continues the upstream call span');
      assert.equal(infer.attributes['switchyard.model'], 'fraud');
      assert.equal(infer.attributes['switchyard.version'], '1');
      assert.equal(infer.attributes['switchyard.outcome'], 'ok');
      assert.equal(infer.attributes['switchyard.batch_size'], call.attributes['switchyard.batch_size']);
      const queue = one(spans, 'runtime.queue');
      const run = one(spans, 'runtime.session_run');
      assert.equal(parentOf(queue), idOf(infer));
      assert.equal(parentOf(run), idOf(infer));
      assert.ok(Number(run.attributes['switchyard.batch_size']) >= 1);
      // The runtime's work lies inside the gateway's call. The SDK pins each span's clock to Date.now
      // when the span starts, so times of different spans agree only to about a millisecond.
      const within = (inner: ReadableSpan, outer: ReadableSpan) =>
        ms(inner.startTime) >= ms(outer.startTime) - CLOCK_MS &&
        ms(inner.endTime) <= ms(outer.endTime) + CLOCK_MS;
      assert.ok(within(infer, call), 'runtime.infer within upstream.call');
      assert.ok(within(call, root), 'upstream.call within switchyard.request');
    },
  );

  await t.test(
    'a variant fallback: both runtime calls in the trace, under the stages that made them',
    async () => {
      exporter.reset();
      const response = await postJson(
        client,
        `${gateway.url}/v1/decisions/fraud`,
        decisionBody(rows[1]!, 'u-2'),
        {
          ...AUTH,
          'x-switchyard-force-variant': 'v2',
        },
      );
      assert.equal(response.status, 200, response.text);
      assert.equal(header(response.headers, 'x-switchyard-fallback'), 'variant; reason=upstream_error');
      const spans = await waitFor('both runtime calls', () => {
        const done = exporter.getFinishedSpans();
        return done.filter((s) => s.name === 'runtime.infer').length === 2 &&
          done.some((s) => s.name === 'switchyard.request')
          ? done
          : undefined;
      });
      // No caller trace: the gateway starts one, and everything is in it.
      assert.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 1);
      const root = one(spans, 'switchyard.request');
      assert.equal(parentOf(root), undefined);
      assert.equal(root.attributes['switchyard.variant'], 'v2');
      assert.equal(root.attributes['switchyard.fallback.kind'], 'variant');
      assert.equal(root.attributes['switchyard.fallback.reason'], 'upstream_error');
      assert.equal(root.attributes['switchyard.fallback.variant'], 'v1');
      assert.equal(one(spans, 'fallback').attributes['switchyard.fallback.kind'], 'variant');
      assert.equal(
        one(spans, 'upstream').attributes['switchyard.error.code'],
        'SWY_ERR_UPSTREAM_FAILED' satisfies ErrorCode,
      );

      const failed = one(spans, 'upstream.call', (s) => s.attributes['switchyard.variant'] === 'v2');
      const answered = one(spans, 'upstream.call', (s) => s.attributes['switchyard.variant'] === 'v1');
      assert.equal(parentOf(failed), idOf(one(spans, 'upstream')));
      assert.equal(failed.attributes['http.response.status_code'], 404);
      assert.equal(parentOf(answered), idOf(one(spans, 'fallback')));
      assert.equal(answered.attributes['http.response.status_code'], 200);
      const refused = one(spans, 'runtime.infer', (s) => parentOf(s) === idOf(failed));
      assert.equal(refused.attributes['switchyard.outcome'], 'not_found');
      const served = one(spans, 'runtime.infer', (s) => parentOf(s) === idOf(answered));
      assert.equal(served.attributes['switchyard.version'], '1');
    },
  );
});
