import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
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

clearOtelEnvironment();

const CALLER_TRACE = '6af92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '22f067aa0ba902b7';

// The gateway's gRPC exchange (src/outbound/grpc-exchange.ts) sends the call's headers as metadata,
// traceparent among them; the runtime's gRPC server continues the trace it names. Both are unit-
// tested on their own side; this is the two together, as an operator's trace viewer would see them.
test("a decision through a grpc:// pool is one trace: the runtime under the gateway's upstream call", async (t) => {
  const { exporter, tracing } = tracingInMemory();
  assert.equal(tracing.enabled, true);
  const running = await startInProcess({ upstream: 'grpc' });
  t.after(async () => {
    await running.stop();
    await tracing.shutdown();
  });
  const { gateway, client } = running;

  exporter.reset();
  const response = await postJson(
    client,
    `${gateway.url}/v1/decisions/fraud`,
    decisionBody(fraudRows(1)[0]!, 'u-1'),
    {
      ...AUTH,
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    },
  );
  assert.equal(response.status, 200, response.text);
  const spans = await waitFor('the gateway and runtime spans', () => {
    const done = exporter.getFinishedSpans();
    return done.some((s) => s.name === 'runtime.session_run') &&
      done.some((s) => s.name === 'switchyard.request')
      ? done
      : undefined;
  });

  assert.deepEqual(
    [...new Set(spans.map((s) => s.spanContext().traceId))],
    [CALLER_TRACE],
    "the caller's trace, continued",
  );
  const root = one(spans, 'switchyard.request');
  assert.equal(parentOf(root), CALLER_SPAN);
  const call = one(spans, 'upstream.call');
  assert.equal(call.kind, SpanKind.CLIENT);
  assert.equal(parentOf(call), idOf(one(spans, 'upstream')));
  const infer = one(spans, 'runtime.infer');
  assert.equal(infer.kind, SpanKind.SERVER);
  assert.equal(parentOf(infer), idOf(call), "the runtime's gRPC span continues the gateway's call span");
  assert.equal(infer.attributes['switchyard.outcome'], 'ok');
  assert.equal(parentOf(one(spans, 'runtime.session_run')), idOf(infer));
});
