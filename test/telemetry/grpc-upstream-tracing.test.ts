import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { setupTracing } from '../../src/shared/tracing.js';
import { AUTH, decisionBody } from '../harness/gateway.js';
import { fraudRows } from '../harness/fraud.js';
import { postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import { clearOtelEnvironment, startInProcess } from './tracing-harness.js';

clearOtelEnvironment();

const CALLER_TRACE = '6af92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '22f067aa0ba902b7';

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

// The gateway's gRPC exchange (src/outbound/grpc-exchange.ts) sends the call's headers as metadata,
// traceparent among them; the runtime's gRPC server continues the trace it names. Both are unit-
// tested on their own side; this is the two together, as an operator's trace viewer would see them.
test("a decision through a grpc:// pool is one trace: the runtime under the gateway's upstream call", async (t) => {
  const exporter = new InMemorySpanExporter();
  const tracing = setupTracing({
    serviceName: 'switchyard-test',
    spanProcessor: new SimpleSpanProcessor(exporter),
  });
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
  const only = (name: string) => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `one ${name} span: ${spans.map((s) => s.name).join(', ')}`);
    return found[0]!;
  };
  const root = only('switchyard.request');
  assert.equal(parentOf(root), CALLER_SPAN);
  const call = only('upstream.call');
  assert.equal(call.kind, SpanKind.CLIENT);
  assert.equal(parentOf(call), idOf(only('upstream')));
  const infer = only('runtime.infer');
  assert.equal(infer.kind, SpanKind.SERVER);
  assert.equal(parentOf(infer), idOf(call), "the runtime's gRPC span continues the gateway's call span");
  assert.equal(infer.attributes['switchyard.outcome'], 'ok');
  assert.equal(parentOf(only('runtime.session_run')), idOf(infer));
});
