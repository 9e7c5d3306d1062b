import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INVALID_TRACEID, ProxyTracerProvider, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { gatewayError } from '../../src/errors.js';
import { compose } from '../../src/pipeline/compose.js';
import { refuse } from '../../src/pipeline/stage.js';
import { setupTracing, tracingEnabled } from '../../src/shared/tracing.js';
import { AUTH, decisionBody } from '../harness/gateway.js';
import { fraudRows } from '../harness/fraud.js';
import { postJson } from '../harness/http.js';
import { waitFor } from '../harness/process.js';
import { clearOtelEnvironment, startInProcess } from './tracing-harness.js';

clearOtelEnvironment();

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

test('without an OTLP endpoint nothing is registered and no pipeline makes spans', async (t) => {
  await t.test('setupTracing registers nothing without OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT', async () => {
    const off = setupTracing({ serviceName: 'switchyard-gateway', env: {} });
    assert.equal(off.enabled, false);
    assert.equal(setupTracing({ serviceName: 'x', env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' } }).enabled, false);
    assert.equal(
      setupTracing({
        serviceName: 'x',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' },
      }).enabled,
      false,
    );
    await off.shutdown();
    assert.equal(tracingEnabled(), false);
    // The API's global provider is still the proxy with no delegate: every span is a no-op.
    const provider = trace.getTracerProvider();
    assert.ok(provider instanceof ProxyTracerProvider);
    const span = trace.getTracer('probe').startSpan('probe');
    assert.equal(span.isRecording(), false);
    assert.equal(span.spanContext().traceId, INVALID_TRACEID);
    span.end();
    const pipeline = compose({
      stages: [{ name: 'only', run: async () => refuse(gatewayError('INTERNAL')) }],
      respond: () => ({ status: 500, body: {} }),
      after: [],
    });
    assert.equal(pipeline.traced, false);
  });

  await t.test('a gateway built without tracing makes no span even once a provider appears', async (t) => {
    const running = await startInProcess();
    t.after(() => running.stop());
    const { gateway, client } = running;
    const rows = fraudRows(2);
    const send = (row: number[]) =>
      postJson(client, `${gateway.url}/v1/decisions/fraud`, decisionBody(row, 'u-off'), {
        ...AUTH,
        traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
      });
    const before = await send(rows[0]!);
    assert.equal(before.status, 200, before.text);
    assert.equal(before.headers.traceparent, undefined, 'no trace of its own to report');
    assert.match(String(before.headers['server-timing']), /upstream;dur=[\d.]+.*total;dur=/);
    for (const [, model] of gateway.active.version.models) assert.equal(model.pipeline.traced, false);

    // Register a provider now. The gateway decided when it was built: its pipelines, runtime
    // calls and handler never call the tracing API, so none of its spans appear. The runtime
    // checks per request, so its span appears, continuing the caller's context that the
    // untraced gateway passed on unchanged.
    const exporter = new InMemorySpanExporter();
    const late = setupTracing({ serviceName: 'late', spanProcessor: new SimpleSpanProcessor(exporter) });
    t.after(() => late.shutdown());
    const after = await send(rows[1]!);
    assert.equal(after.status, 200, after.text);
    const spans = await waitFor('the runtime span', () => {
      const done = exporter.getFinishedSpans();
      return done.some((s) => s.name === 'runtime.infer') ? done : undefined;
    });
    assert.deepEqual(
      spans.filter((s) => !s.name.startsWith('runtime.')).map((s) => s.name),
      [],
      'no gateway span',
    );
    const infer = spans.find((s) => s.name === 'runtime.infer')!;
    assert.equal(infer.spanContext().traceId, CALLER_TRACE);
    assert.equal(infer.parentSpanContext?.spanId, CALLER_SPAN);
    assert.equal(after.headers.traceparent, undefined);
  });
});
