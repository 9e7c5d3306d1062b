import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  diag,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { Reply, RequestContext, Stage } from '../pipeline/stage.js';
import { parseServerTiming } from './server-timing.js';

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
  logger?: { warn(obj: object, msg: string): void };
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

const tracer = trace.getTracer('switchyard-gateway');

/** A request's root span, continuing the caller's `traceparent`. */
export interface RequestSpan {
  /** Runs the pipeline with this span active, so stage spans and the runtime call hang from it. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Ends the span with what was answered; returns its `traceparent` for the response. */
  end(
    ctx: Pick<RequestContext, 'requestId' | 'variant' | 'tenant'>,
    reply: Reply,
    status: number,
    endTime: number,
  ): string;
}

/** Starts request spans; undefined when tracing is off, so the handler checks once. */
export function requestTracer():
  | ((headers: IncomingHttpHeaders, model: string, endpoint: string, startTime: number) => RequestSpan)
  | undefined {
  if (!installed) return undefined;
  return (headers, model, endpoint, startTime) => {
    const parent = propagation.extract(ROOT_CONTEXT, headers);
    const span = tracer.startSpan(
      'switchyard.request',
      {
        kind: SpanKind.SERVER,
        startTime,
        attributes: { 'switchyard.model': model, 'switchyard.endpoint': endpoint },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return {
      run: (fn) => context.with(active, fn),
      end(ctx, reply, status, endTime) {
        span.setAttributes({
          'switchyard.request_id': ctx.requestId,
          'http.response.status_code': status,
          ...(ctx.tenant ? { 'switchyard.tenant': ctx.tenant.name } : {}),
        });
        describeReply(span, ctx, reply);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end(endTime);
        const carrier: Record<string, string> = {};
        propagation.inject(active, carrier);
        return carrier.traceparent ?? '';
      },
    };
  };
}

/**
 * Wraps a stage so it runs in a span of its own named after it. Every stage span is a child of
 * the request's span (the next stage runs in the request's context again), and carries its own
 * time, exclusive of later stages, as `switchyard.stage.self_ms`. Undefined when tracing is off.
 */
export function stageTracer(): ((name: string, run: Stage) => Stage) | undefined {
  if (!installed) return undefined;
  return (name, run) => (ctx, next) => {
    const parent = context.active();
    const started = performance.now();
    const span = tracer.startSpan(
      name,
      { startTime: started, attributes: { 'switchyard.model': ctx.model } },
      parent,
    );
    let downstreamMs = 0;
    const nextInParent = (): ReturnType<typeof next> => {
      const entered = performance.now();
      return context.with(parent, next).finally(() => {
        downstreamMs += performance.now() - entered;
      });
    };
    const finish = (reply: Reply | undefined, error?: unknown): void => {
      const ended = performance.now();
      span.setAttribute('switchyard.stage.self_ms', ended - started - downstreamMs);
      if (reply) describeReply(span, ctx, reply);
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end(ended);
    };
    let result: Promise<Reply>;
    try {
      result = context.with(trace.setSpan(parent, span), () => run(ctx, nextInParent));
    } catch (error) {
      finish(undefined, error);
      throw error;
    }
    return result.then(
      (reply) => {
        finish(reply);
        return reply;
      },
      (error: unknown) => {
        finish(undefined, error);
        throw error;
      },
    );
  };
}

/** One attempt to call a runtime endpoint, as a client span whose context the runtime continues. */
export interface CallSpan {
  /** Sets `traceparent` (and `tracestate`) on the runtime request. */
  inject(headers: IncomingHttpHeaders): void;
  end(status: number, serverTiming: string | undefined, timedOut: boolean): void;
}

export interface CallAttributes {
  model: string;
  variant: string;
  version: string;
  /** The runtime URL called. */
  url: string;
  attempt: number;
}

/** Starts runtime-call spans under the active span; undefined when tracing is off. */
export function callTracer(): ((attributes: CallAttributes) => CallSpan) | undefined {
  if (!installed) return undefined;
  return (attributes) => {
    const parent = context.active();
    const span = tracer.startSpan(
      'upstream.call',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'switchyard.model': attributes.model,
          'switchyard.variant': attributes.variant,
          'switchyard.version': attributes.version,
          'http.request.method': 'POST',
          'url.full': attributes.url,
          'switchyard.attempt': attributes.attempt,
        },
      },
      parent,
    );
    return {
      inject(headers) {
        propagation.inject(trace.setSpan(parent, span), headers);
      },
      end(status, serverTiming, timedOut) {
        if (status > 0) span.setAttribute('http.response.status_code', status);
        if (timedOut) span.setAttribute('switchyard.timed_out', true);
        for (const entry of serverTiming ? parseServerTiming(serverTiming) : []) {
          if (entry.name === 'batch' && entry.desc !== undefined) {
            const rows = Number(entry.desc);
            if (Number.isFinite(rows)) span.setAttribute('switchyard.batch_size', rows);
          } else if ((entry.name === 'queue' || entry.name === 'infer') && entry.dur !== undefined) {
            span.setAttribute(`switchyard.runtime.${entry.name}_ms`, entry.dur);
          }
        }
        if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  };
}

/**
 * The variant the user is assigned to (as in metrics and logs), what answered instead when a
 * fallback did and why, or the error code.
 */
function describeReply(span: Span, ctx: Pick<RequestContext, 'variant'>, reply: Reply): void {
  if (ctx.variant) {
    span.setAttributes({ 'switchyard.variant': ctx.variant.name, 'switchyard.version': ctx.variant.version });
  }
  if (reply.ok) {
    if (reply.fallback) {
      span.setAttributes({
        'switchyard.fallback.kind': reply.fallback.kind,
        'switchyard.fallback.reason': reply.fallback.reason,
        'switchyard.fallback.variant': reply.variant,
        'switchyard.fallback.version': reply.version,
      });
    }
  } else {
    span.setAttribute('switchyard.error.code', reply.error.code);
    if (reply.error.status >= 500)
      span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.message });
  }
}
