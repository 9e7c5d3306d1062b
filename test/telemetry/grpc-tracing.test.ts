import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { startRuntime } from '../../runtimes/onnx/main.js';
import { RUNTIME_DEFAULTS } from '../../runtimes/onnx/options.js';
import { fraudRows } from '../harness/fraud.js';
import { inferenceClient } from '../harness/grpc.js';
import { waitFor } from '../harness/process.js';
import { copyRepository } from '../harness/runtime.js';
import { clearOtelEnvironment, tracingInMemory } from './tracing-harness.js';

clearOtelEnvironment();

const CALLER_TRACE = '5cf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '11f067aa0ba902b7';

test('a gRPC call with traceparent in its metadata continues the trace in the runtime', async (t) => {
  const { exporter, tracing } = tracingInMemory();
  assert.equal(tracing.enabled, true);
  const repository = await copyRepository(['fraud']);
  const runtime = await startRuntime({
    ...RUNTIME_DEFAULTS,
    repository: repository.dir,
    port: 0,
    grpcPort: 0,
    logLevel: 'silent',
    graceMs: 5000,
  });
  const client = inferenceClient(`127.0.0.1:${runtime.grpcPort}`);
  t.after(async () => {
    client.close();
    await runtime.shutdown();
    await tracing.shutdown();
    await repository.remove();
  });
  await runtime.state.repository.loaded;

  const rows = fraudRows(2);
  const result = await client.call(
    'ModelInfer',
    {
      model_name: 'fraud',
      inputs: [
        { name: 'features', datatype: 'FP32', shape: [2, 8], contents: { fp32_contents: rows.flat() } },
      ],
    },
    { metadata: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } },
  );
  assert.equal(result.code, 0);

  const spans = await waitFor('the runtime spans', () => {
    const done = exporter.getFinishedSpans();
    return done.some((s) => s.name === 'runtime.infer') && done;
  });
  const infer = spans.find((s) => s.name === 'runtime.infer')!;
  assert.equal(infer.kind, SpanKind.SERVER);
  assert.equal(infer.spanContext().traceId, CALLER_TRACE, "the caller's trace");
  assert.equal(infer.parentSpanContext?.spanId, CALLER_SPAN, "under the caller's span");
  assert.equal(infer.attributes['switchyard.outcome'], 'ok');
  assert.equal(infer.attributes['switchyard.batch_size'], 2);
  for (const name of ['runtime.queue', 'runtime.session_run']) {
    const child = spans.find((s) => s.name === name);
    assert.ok(child, `no ${name} span`);
    assert.equal(child.parentSpanContext?.spanId, infer.spanContext().spanId, `${name} under runtime.infer`);
  }
});
