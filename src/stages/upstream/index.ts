import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { ModelConfig } from '../../config/schema.js';
import { gatewayError } from '../../errors.js';
import { refuse, type NamedStage, type Reply, type RequestContext } from '../../pipeline/stage.js';
import type { InferResponse } from '../../protocol/oip.js';
import type { Endpoint, UpstreamPool } from '../../upstream/index.js';
import type { VariantConfig } from '../route/config.js';
import { callEndpoint, type CallResult } from './call.js';
import type { UpstreamStageMetrics } from './metrics.js';

export interface UpstreamDeps {
  pools: ReadonlyMap<string, UpstreamPool>;
  metrics: UpstreamStageMetrics;
}

/** Most endpoints one request tries; inference is idempotent, so a retry is safe. */
const MAX_ATTEMPTS = 3;

/**
 * Calls the runtime pool for the request's variant. The runtime gets what is left of the budget
 * (less the reserve kept for a fallback) in `x-request-timeout-ms`, and drops work past it. A
 * connection error or a 5xx is tried again on another endpoint while the budget lasts.
 */
export function createUpstream(modelName: string, model: ModelConfig, deps: UpstreamDeps): NamedStage {
  const call = createVariantCall(modelName, model, deps);
  return {
    name: 'upstream',
    run: (ctx) => call(ctx, ctx.variant!),
  };
}

export type VariantCall = (
  ctx: Pick<RequestContext, 'inference' | 'deadline' | 'requestId' | 'headers'> &
    Partial<Pick<RequestContext, 'runtimeTiming'>>,
  variant: VariantConfig,
) => Promise<Reply>;

/** One variant's call path, shared by the primary call and (later) fallbacks and shadows. */
export function createVariantCall(modelName: string, model: ModelConfig, deps: UpstreamDeps): VariantCall {
  const reserveMs = model.fallback_reserve_ms;
  const paths = new Map(
    [...model.variants, ...model.shadows].map((v) => [
      v.name,
      `/v2/models/${encodeURIComponent(v.model)}/versions/${encodeURIComponent(v.version)}/infer`,
    ]),
  );
  const metrics = {
    attempts: deps.metrics.attempts,
    retries: deps.metrics.retries,
    duration: deps.metrics.duration,
  };

  return async (ctx, variant) => {
    const pool = deps.pools.get(variant.upstream);
    if (!pool) return refuse(gatewayError('INTERNAL', `no pool for upstream "${variant.upstream}"`));
    const path = paths.get(variant.name)!;
    const body = JSON.stringify(ctx.inference);
    const tried = new Set<Endpoint>();
    const labels = { model: modelName, variant: variant.name };
    let last: CallResult | undefined;

    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const remaining = Math.floor(ctx.deadline - performance.now() - reserveMs);
      if (remaining <= 0) break;
      const endpoint = pool.pick(tried);
      if (!endpoint) break;
      tried.add(endpoint);
      if (attempt > 0) metrics.retries.inc(labels);
      const started = performance.now();
      const result = await callEndpoint(endpoint, path, body, remaining, forwardHeaders(ctx, remaining));
      metrics.duration.observe(labels, (performance.now() - started) / 1000);
      last = result;
      if (result.status === 200) {
        endpoint.release('ok');
        metrics.attempts.inc({ ...labels, outcome: 'ok' });
        if ('runtimeTiming' in ctx || ctx.runtimeTiming === undefined)
          ctx.runtimeTiming = result.serverTiming;
        return {
          ok: true,
          response: JSON.parse(result.text) as InferResponse,
          variant: variant.name,
          version: variant.version,
        };
      }
      if (result.status === 400 || result.status === 413) {
        // The request is wrong, not the endpoint: tell the caller what the runtime said.
        endpoint.release('ok');
        metrics.attempts.inc({ ...labels, outcome: 'client_error' });
        return refuse(gatewayError('INPUT_INVALID', runtimeMessage(result)));
      }
      // 404 (this endpoint lacks the version) and 503 (queue full, not ready) were not processed:
      // another endpoint may serve them. Connection errors and other 5xx count against the endpoint.
      const endpointFault = result.status === 0 || (result.status >= 500 && result.status !== 503);
      endpoint.release(endpointFault ? 'error' : 'ok');
      metrics.attempts.inc({ ...labels, outcome: result.timedOut ? 'timeout' : 'retryable' });
      if (result.timedOut) break;
    }

    if (!last) {
      const remaining = ctx.deadline - performance.now() - reserveMs;
      return refuse(
        remaining <= 0
          ? gatewayError('BUDGET_EXHAUSTED', 'no time left to call the runtime')
          : gatewayError(
              'UPSTREAM_NO_ENDPOINT',
              `upstream "${variant.upstream}" has no endpoint in rotation`,
            ),
      );
    }
    if (last.timedOut || ctx.deadline - performance.now() - reserveMs <= 0) {
      return refuse(gatewayError('BUDGET_EXHAUSTED', `variant ${variant.name} did not answer in time`));
    }
    return refuse(gatewayError('UPSTREAM_FAILED', `variant ${variant.name}: ${runtimeMessage(last)}`));
  };
}

function forwardHeaders(
  ctx: Pick<RequestContext, 'requestId' | 'headers'>,
  remainingMs: number,
): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {
    'content-type': 'application/json',
    'x-request-id': ctx.requestId,
    'x-request-timeout-ms': String(remainingMs),
  };
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
