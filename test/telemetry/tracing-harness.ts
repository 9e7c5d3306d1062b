import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startRuntime, type RuntimeHandle } from '../../runtimes/onnx/main.js';
import { RUNTIME_DEFAULTS } from '../../runtimes/onnx/options.js';
import { startGateway, type GatewayHandle } from '../../src/gateway/start.js';
import { setupTracing, type Tracing } from '../../src/shared/tracing.js';
import { fraudGatewayConfig, upstreamHealthy, writeConfig } from '../harness/gateway.js';
import { createClient } from '../harness/http.js';
import { copyRepository } from '../harness/runtime.js';

/**
 * Tracing is decided by the environment; a collector configured where the tests run must not
 * turn it on (or off) behind a test's back.
 */
export function clearOtelEnvironment(): void {
  for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name];
}

/** Tracing on in this process, every finished span kept in memory for the test to read. */
export function tracingInMemory(): { exporter: InMemorySpanExporter; tracing: Tracing } {
  const exporter = new InMemorySpanExporter();
  const tracing = setupTracing({
    serviceName: 'switchyard-test',
    spanProcessor: new SimpleSpanProcessor(exporter),
  });
  return { exporter, tracing };
}

export const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
export const idOf = (span: ReadableSpan) => span.spanContext().spanId;

/** The one span called `name` (and matching `where`); fails, listing what there is, unless exactly one. */
export function one(
  spans: ReadableSpan[],
  name: string,
  where: (s: ReadableSpan) => boolean = () => true,
): ReadableSpan {
  const found = spans.filter((s) => s.name === name && where(s));
  assert.equal(
    found.length,
    1,
    `one ${name} span, got ${found.length}: ${spans.map((s) => s.name).join(', ')}`,
  );
  return found[0]!;
}

export interface InProcess {
  runtime: RuntimeHandle;
  gateway: GatewayHandle;
  client: ReturnType<typeof createClient>;
  stop(): Promise<void>;
}

/**
 * A runtime on the fraud model and a gateway in front of it, both in this process (so one
 * tracer provider sees both), on loopback ports chosen at run time.
 */
export async function startInProcess(
  options: {
    model?: object;
    configure?: (config: Record<string, unknown>) => void;
    /** How the gateway calls the runtime: REST (http://, the default) or gRPC (grpc://). */
    upstream?: 'http' | 'grpc';
  } = {},
): Promise<InProcess> {
  const repository = await copyRepository(['fraud']);
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-tracing-'));
  const cleanups: (() => Promise<unknown>)[] = [
    () => rm(dir, { recursive: true, force: true }),
    () => repository.remove(),
  ];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const runtime = await startRuntime({
      ...RUNTIME_DEFAULTS,
      repository: repository.dir,
      port: 0,
      ...(options.upstream === 'grpc' ? { grpcPort: 0 } : {}),
      logLevel: 'silent',
      graceMs: 5000,
    });
    cleanups.push(() => runtime.shutdown());
    await runtime.state.repository.loaded;
    const endpoint = options.upstream === 'grpc' ? `grpc://127.0.0.1:${runtime.grpcPort}` : runtime.url;
    const config: Record<string, unknown> = {
      ...fraudGatewayConfig([endpoint], options.model ? { model: options.model } : {}),
      prediction_log: { path: join(dir, 'predictions.jsonl') },
    };
    options.configure?.(config);
    const configPath = join(dir, 'gateway.yaml');
    await writeConfig(configPath, config);
    const gateway = await startGateway({
      config: configPath,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      drainDelayMs: 0,
      graceMs: 5000,
    });
    cleanups.push(() => gateway.shutdown());
    const client = createClient(8);
    cleanups.push(() => client.close());
    await upstreamHealthy(client, gateway.url);
    return { runtime, gateway, client, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
