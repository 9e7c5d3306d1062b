import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import { answeredBy, type Reply, type RequestContext, type Stage } from '../pipeline/stage.js';
import { tracingEnabled } from '../shared/tracing.js';
import { parseServerTiming } from './server-timing.js';

// The gateway's spans; the provider they go to is set up by src/shared/tracing.ts. Each factory
// is undefined when tracing is off, so what it builds decides once whether to make spans.

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
  if (!tracingEnabled()) return undefined;
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
  if (!tracingEnabled()) return undefined;
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
  if (!tracingEnabled()) return undefined;
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
      });
      // What answered: none for a default decision, which no model gave.
      const answered = answeredBy(reply);
      if (answered) {
        span.setAttributes({
          'switchyard.fallback.variant': answered.variant,
          'switchyard.fallback.version': answered.version,
        });
      }
    }
  } else {
    span.setAttribute('switchyard.error.code', reply.error.code);
    if (reply.error.status >= 500)
      span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.message });
  }
}
