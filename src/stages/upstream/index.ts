import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { ModelConfig } from '../../config/schema.js';
import { gatewayError } from '../../errors.js';
import { refuse, type NamedStage, type Reply } from '../../pipeline/stage.js';
import { isInferResponse } from '../../shared/oip.js';
import { boundLabels } from '../../telemetry/bound-labels.js';
import { callTracer } from '../../telemetry/tracing.js';
import type { Endpoint, UpstreamPool } from '../../upstream/index.js';
import type { VariantBreaker } from './breaker.js';
import { callEndpoint, type CallResult } from './call.js';
import type { LatencyWindow } from './latency.js';
import type { UpstreamStageMetrics } from './metrics.js';
import type { RetryBudget } from './retry-budget.js';
import type { CallContext, VariantCall } from './variant-call.js';

export interface UpstreamDeps {
  pools: ReadonlyMap<string, UpstreamPool>;
  metrics: UpstreamStageMetrics;
  /** The model's recent latency: admission reads it, retries need room for its p90. */
  latency: LatencyWindow;
  retryBudget: () => RetryBudget;
}

/** Most endpoints one request tries; inference is idempotent, so a retry is safe. */
const MAX_ATTEMPTS = 3;

/** The primary call: the request's variant, through its breaker. */
export function createUpstream(call: VariantCall): NamedStage {
  return {
    name: 'upstream',
    async run(ctx) {
      const reply = await call(ctx, ctx.variant!);
      if (reply.ok) ctx.runtimeTiming = reply.runtimeTiming;
      return reply;
    },
  };
}

/** A call through the variant's breaker, looked up per call so a reload's new breaker applies at once. */
export function guardedCall(
  call: VariantCall,
  breakerOf: (variant: string) => VariantBreaker | undefined,
): VariantCall {
  return (ctx, variant, reserveMs) => {
    const breaker = breakerOf(variant.name);
    return breaker ? breaker.call(() => call(ctx, variant, reserveMs)) : call(ctx, variant, reserveMs);
  };
}

/**
 * Calls one variant of the model on its runtime pool. The runtime gets what is left of the budget
 * (less the reserve kept for a fallback) in `x-request-timeout-ms`, and drops work past it. A
 * connection error or a 5xx is tried again on another endpoint when the retry budget allows and
 * the remaining time still covers the model's recent p90 latency.
 */
export function createVariantCall(modelName: string, model: ModelConfig, deps: UpstreamDeps): VariantCall {
  const { metrics } = deps;
  // Checked once per config version: without tracing no span is made per attempt.
  const traceCall = callTracer();
  const attemptCounter = boundLabels((l) => metrics.attempts.labels(l), [
    'model',
    'variant',
    'outcome',
  ] as const);
  const durationHistogram = boundLabels((l) => metrics.duration.labels(l), ['model', 'variant'] as const);
  // Each variant's runtime path, built on its first call rather than on every one (variants are
  // the config's objects, the same on every request).
  const paths = new WeakMap<{ model: string; version: string }, string>();
  const pathOf = (variant: { model: string; version: string }): string => {
    let path = paths.get(variant);
    if (path === undefined) {
      path = `/v2/models/${encodeURIComponent(variant.model)}/versions/${encodeURIComponent(variant.version)}/infer`;
      paths.set(variant, path);
    }
    return path;
  };

  return async (ctx, variant, reserveMs = model.fallback_reserve_ms) => {
    const pool = deps.pools.get(variant.upstream);
    if (!pool) return refuse(gatewayError('INTERNAL', `no pool for upstream "${variant.upstream}"`));
    const path = pathOf(variant);
    const body = (ctx.inferenceText ??= JSON.stringify(ctx.inference));
    const tried = new Set<Endpoint>();
    const budget = deps.retryBudget();
    budget.deposit();
    let last: CallResult | undefined;

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remaining = Math.floor(ctx.deadline - performance.now() - reserveMs);
      if (remaining <= 0) break;
      if (attempt > 0 && (remaining < deps.latency.p90Ms() || !budget.tryWithdraw())) break;
      const endpoint = pool.pick(tried);
      if (!endpoint || tried.has(endpoint)) {
        endpoint?.abandon(); // every endpoint was tried already: nothing new to try
        break;
      }
      tried.add(endpoint);
      if (attempt > 0) metrics.retries.inc({ model: modelName, variant: variant.name });
      const started = performance.now();
      const headers = forwardHeaders(ctx, remaining, traceCall === undefined);
      const span = traceCall?.({
        model: modelName,
        variant: variant.name,
        version: variant.version,
        url: `${endpoint.url}${path}`,
        attempt: attempt + 1,
      });
      span?.inject(headers);
      const result = await callEndpoint(endpoint, path, body, remaining, headers);
      span?.end(result.status, result.serverTiming, result.timedOut);
      const elapsed = performance.now() - started;
      durationHistogram(modelName, variant.name).observe(elapsed / 1000);
      last = result;
      if (result.status === 200) {
        endpoint.release('ok');
        deps.latency.record(elapsed);
        attemptCounter(modelName, variant.name, 'ok').inc();
        return answer(result, variant);
      }
      if (result.status === 400 || result.status === 413) {
        // The request is wrong, not the endpoint: tell the caller what the runtime said.
        endpoint.release('ok');
        attemptCounter(modelName, variant.name, 'client_error').inc();
        return refuse(gatewayError('INPUT_INVALID', runtimeMessage(result)));
      }
      // 404 (this endpoint lacks the version) and 503 (queue full, not ready) were not processed:
      // another endpoint may serve them. Connection errors and other 5xx count against the endpoint.
      const endpointFault = result.status === 0 || (result.status >= 500 && result.status !== 503);
      endpoint.release(endpointFault ? 'error' : 'ok');
      attemptCounter(modelName, variant.name, result.timedOut ? 'timeout' : 'retryable').inc();
      if (result.timedOut) break;
    }

    const outOfTime = ctx.deadline - performance.now() - reserveMs <= 0;
    if (!last) {
      return refuse(
        outOfTime
          ? gatewayError('BUDGET_EXHAUSTED', 'no time left to call the runtime')
          : gatewayError(
              'UPSTREAM_NO_ENDPOINT',
              `upstream "${variant.upstream}" has no endpoint in rotation`,
            ),
      );
    }
    if (last.timedOut || outOfTime) {
      return refuse(gatewayError('BUDGET_EXHAUSTED', `variant ${variant.name} did not answer in time`));
    }
    return refuse(gatewayError('UPSTREAM_FAILED', `variant ${variant.name}: ${runtimeMessage(last)}`));
  };
}

function answer(result: CallResult, variant: { name: string; version: string }): Reply {
  let response: unknown;
  try {
    response = JSON.parse(result.text);
  } catch (error) {
    return refuse(
      gatewayError('UPSTREAM_FAILED', 'the runtime answered 200 with a body that is not JSON', {
        cause: error,
      }),
    );
  }
  if (!isInferResponse(response)) {
    return refuse(
      gatewayError('UPSTREAM_FAILED', 'the runtime answered 200 with JSON that is not an inference response'),
    );
  }
  return {
    ok: true,
    response,
    variant: variant.name,
    version: variant.version,
    ...(result.serverTiming ? { runtimeTiming: result.serverTiming } : {}),
  };
}

/**
 * With tracing on, the attempt's span injects its own `traceparent`, so the runtime's spans join
 * the gateway's trace. With it off the gateway takes no part in the trace and passes the caller's
 * trace context on unchanged, as W3C trace-context asks of a hop that does not trace.
 */
function forwardHeaders(
  ctx: CallContext,
  remainingMs: number,
  passCallerTrace: boolean,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {
    'content-type': 'application/json',
    'x-request-id': ctx.requestId,
    'x-request-timeout-ms': String(remainingMs),
  };
  if (!passCallerTrace) return headers;
  const { traceparent, tracestate } = ctx.headers;
  if (traceparent) headers.traceparent = traceparent;
  if (tracestate) headers.tracestate = tracestate;
  return headers;
}

function runtimeMessage(result: CallResult): string {
  if (result.status === 0) return result.error?.message ?? 'no response';
  try {
    const parsed = JSON.parse(result.text) as { error?: unknown };
    if (typeof parsed.error === 'string') return `runtime answered ${result.status}: ${parsed.error}`;
  } catch {
    // not JSON
  }
  return `runtime answered ${result.status}`;
}
