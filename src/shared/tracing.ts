import { setTimeout as sleep } from 'node:timers/promises';
import { DiagLogLevel, context, diag, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { Logger } from './logger.js';

// The OpenTelemetry setup of a switchyard process, gateway or runtime. The gateway's request,
// stage and runtime-call spans are src/telemetry/tracing.ts; the runtime's infer span is
// runtimes/onnx/infer.ts.

export interface TracingOptions {
  /** The resource's service.name (switchyard-gateway, switchyard-runtime); OTEL_SERVICE_NAME wins. */
  serviceName: string;
  /** The collector's OTLP/HTTP base URL, like OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is appended). */
  endpoint?: string;
  /** Spans go here, through a BatchSpanProcessor, instead of OTLP (tests, embedding). */
  exporter?: SpanExporter;
  /** Or a whole processor, e.g. a SimpleSpanProcessor so a test sees each span as it ends. */
  spanProcessor?: SpanProcessor;
  /** Where the SDK's own warnings go (a failing export); silent without it. */
  logger?: Pick<Logger, 'warn'>;
  env?: NodeJS.ProcessEnv;
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * Exports what is buffered, waiting at most `timeoutMs` (a collector that is down must not hold
   * up a shutdown); the last user also unregisters the provider.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The process's one registered provider: `switchyard dev` runs a runtime and a gateway in one process. */
let installed: { provider: NodeTracerProvider; users: number } | undefined;

const DISABLED: Tracing = { enabled: false, shutdown: async () => {} };

/**
 * Registers an OpenTelemetry tracer provider (AsyncLocalStorage context, W3C trace-context
 * propagation) when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or
 * an endpoint, exporter or processor is given. Otherwise nothing is registered, and the gateway's
 * pipelines, built after this, never touch the tracing API on the request path.
 */
export function setupTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  const configured =
    options.endpoint || options.exporter || options.spanProcessor
      ? true
      : Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (!configured || env.OTEL_SDK_DISABLED === 'true') return DISABLED;
  if (installed) {
    // The second service in the process shares the provider (and so its service.name).
    installed.users++;
    return handle(installed);
  }
  if (options.logger) {
    const { logger } = options;
    const warn = (message: string, ...args: unknown[]) => logger.warn({ otel: args }, message);
    const ignore = () => {};
    diag.setLogger(
      { error: warn, warn, info: ignore, debug: ignore, verbose: ignore },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
  }
  const processor =
    options.spanProcessor ??
    new BatchSpanProcessor(
      options.exporter ??
        new OTLPTraceExporter(
          options.endpoint ? { url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` } : {},
        ),
    );
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || options.serviceName }),
    spanProcessors: [processor],
  });
  // The default context manager (AsyncLocalStorage) carries the active span across awaits.
  provider.register({ propagator: new W3CTraceContextPropagator() });
  installed = { provider, users: 1 };
  return handle(installed);
}

function handle(entry: { provider: NodeTracerProvider; users: number }): Tracing {
  let done = false;
  return {
    enabled: true,
    async shutdown(timeoutMs = 2000) {
      if (done) return;
      done = true;
      entry.users--;
      const work = entry.users > 0 ? entry.provider.forceFlush() : entry.provider.shutdown();
      await Promise.race([work.catch(() => {}), sleep(timeoutMs, undefined, { ref: false })]);
      if (entry.users === 0 && installed === entry) {
        installed = undefined;
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

/** Whether setupTracing registered a provider: read once when something is built, not per request. */
export function tracingEnabled(): boolean {
  return installed !== undefined;
}
