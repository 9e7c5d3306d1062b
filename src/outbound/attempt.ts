import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gatewayError } from '../errors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import { isInferResponse } from '../shared/oip.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import { callTracer } from '../telemetry/tracing.js';
import type { Endpoint, Outcome } from '../runtime-pool/index.js';
import { exchange, type ExchangeResult } from './exchange.js';
import type { LatencyWindow } from './latency.js';
import type { OutboundMetrics } from './metrics.js';
import type { CallContext, CallTarget } from './variant-call.js';

/** One attempt's request: what the retry layer worked out once for every attempt of a call. */
export interface AttemptRequest {
  ctx: CallContext;
  variant: CallTarget;
  /** The runtime's infer path for the variant's model and version. */
  path: string;
  /** The OIP request as JSON. */
  body: string;
  /** What the runtime may take: the request's remaining budget less the fallback reserve. */
  timeoutMs: number;
  /** 1 for the first attempt of a call. */
  number: number;
}

/**
 * How one attempt went. `final`: the call is decided (an answer, or a refusal that another
 * endpoint would repeat: the request is wrong, or the runtime's 200 is no inference response).
 * Otherwise another endpoint may do better; `result` is the exchange, for the call's last word.
 * `outcome` is the endpoint's part, for outlier detection.
 */
export type AttemptResult =
  | { readonly final: true; readonly outcome: Outcome; readonly reply: Reply }
  | { readonly final: false; readonly outcome: Outcome; readonly result: ExchangeResult };

export type Attempt = (endpoint: Endpoint, request: AttemptRequest) => Promise<AttemptResult>;

export interface AttemptDeps {
  metrics: Pick<OutboundMetrics, 'attempts' | 'duration'>;
  /** The model's recent latency, fed by every answered attempt. */
  latency: LatencyWindow;
}

/**
 * The innermost layer: one exchange with one endpoint, in its own span when tracing is on,
 * timed and counted, its answer parsed. The runtime gets `x-request-timeout-ms` and drops work
 * past it.
 */
export function createAttempt(modelName: string, deps: AttemptDeps): Attempt {
  const { metrics, latency } = deps;
  // Checked once per config version: without tracing no span is made per attempt.
  const traceCall = callTracer();
  const attemptCounter = boundLabels((l) => metrics.attempts.labels(l), [
    'model',
    'variant',
    'outcome',
  ] as const);
  const durationHistogram = boundLabels((l) => metrics.duration.labels(l), ['model', 'variant'] as const);

  return async (endpoint, request) => {
    const { variant } = request;
    const started = performance.now();
    const headers = forwardHeaders(request.ctx, request.timeoutMs, traceCall === undefined);
    const span = traceCall?.({
      model: modelName,
      variant: variant.name,
      version: variant.version,
      url: `${endpoint.url}${request.path}`,
      attempt: request.number,
    });
    span?.inject(headers);
    const result = await exchange(endpoint, request.path, request.body, request.timeoutMs, headers);
    span?.end(result.status, result.serverTiming, result.timedOut);
    const elapsed = performance.now() - started;
    durationHistogram(modelName, variant.name).observe(elapsed / 1000);
    if (result.status === 200) {
      latency.record(elapsed);
      attemptCounter(modelName, variant.name, 'ok').inc();
      return { final: true, outcome: 'ok', reply: answer(result, variant) };
    }
    if (result.status === 400 || result.status === 413) {
      // The request is wrong, not the endpoint: tell the caller what the runtime said.
      attemptCounter(modelName, variant.name, 'client_error').inc();
      return {
        final: true,
        outcome: 'ok',
        reply: refuse(gatewayError('INPUT_INVALID', runtimeMessage(result))),
      };
    }
    // 404 (this endpoint lacks the version) and 503 (queue full, not ready) were not processed:
    // another endpoint may serve them. Connection errors and other 5xx count against the endpoint.
    const endpointFault = result.status === 0 || (result.status >= 500 && result.status !== 503);
    attemptCounter(modelName, variant.name, result.timedOut ? 'timeout' : 'retryable').inc();
    return { final: false, outcome: endpointFault ? 'error' : 'ok', result };
  };
}

function answer(result: ExchangeResult, variant: CallTarget): Reply {
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

/** What the runtime said of a failed exchange, for the caller's error message. */
export function runtimeMessage(result: ExchangeResult): string {
  if (result.status === 0) return result.error?.message ?? 'no response';
  try {
    const parsed = JSON.parse(result.text) as { error?: unknown };
    if (typeof parsed.error === 'string') return `runtime answered ${result.status}: ${parsed.error}`;
  } catch {
    // not JSON
  }
  return `runtime answered ${result.status}`;
}
