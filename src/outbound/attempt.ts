import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gatewayError, type GatewayError } from '../errors.js';
import { BINARY_TYPE, HEADER_LENGTH } from '../shared/binary-tensors.js';
import { refuse, type Reply } from '../pipeline/stage.js';
import type { InferResponse } from '../shared/oip.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import { callTracer } from '../telemetry/tracing.js';
import type { Endpoint, Outcome } from '../runtime-pool/index.js';
import { readAnswer, type AnswerSpec } from './answer.js';
import { exchange, type ExchangeResult } from './exchange.js';
import { grpcExchange } from './grpc-exchange.js';
import type { LatencyWindow } from './latency.js';
import type { OutboundMetrics } from './metrics.js';
import type { CallContext, CallTarget } from './variant-call.js';

/** One attempt's request: what the retry layer worked out once for every attempt of a call. */
export interface AttemptRequest {
  ctx: CallContext;
  variant: CallTarget;
  /** The runtime's infer path for the variant's model and version. */
  path: string;
  /** The OIP request as JSON, or JSON and binary inputs (the binary tensor extension). */
  body: string | BinaryRequestBody;
  /** What the runtime may take: the request's remaining budget less the fallback reserve. */
  timeoutMs: number;
  /** 1 for the first attempt of a call. */
  number: number;
}

/** A request body with binary tensors: the JSON, then the tensors; `headerLength` is the JSON's. */
export interface BinaryRequestBody {
  bytes: Buffer;
  headerLength: number;
}

/**
 * How one attempt went. `final`: the call is decided (an answer, or a refusal that another
 * endpoint would repeat because the request caused it). Otherwise another endpoint may do
 * better; `result` is the exchange and `malformed` what was wrong with its 200, for the call's
 * last word. `outcome` is the endpoint's part, for outlier detection.
 */
export type AttemptResult =
  | { readonly final: true; readonly outcome: Outcome; readonly reply: Reply }
  | {
      readonly final: false;
      readonly outcome: Outcome;
      readonly result: ExchangeResult;
      readonly malformed?: string;
    };

export type Attempt = (endpoint: Endpoint, request: AttemptRequest) => Promise<AttemptResult>;

export interface AttemptDeps {
  metrics: Pick<OutboundMetrics, 'attempts' | 'duration'>;
  /** The model's recent latency, fed by every answered attempt. */
  latency: LatencyWindow;
  /** What the target's answers must fit: its model version's metadata, the model's contract. */
  answerSpec?: (target: CallTarget) => AnswerSpec;
}

const NO_SPEC: AnswerSpec = { metadata: undefined, contract: undefined };

/** A grpc endpoint's infer, for the attempt's span (the protocol's method path). */
const GRPC_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';

/**
 * The innermost layer: one exchange with one endpoint (REST, or gRPC for a grpc:// endpoint:
 * grpc-exchange.ts answers in the same form), in its own span when tracing is on,
 * timed and counted, its answer read and checked (answer.ts). The runtime gets
 * `x-request-timeout-ms` and drops work past it.
 */
export function createAttempt(modelName: string, deps: AttemptDeps): Attempt {
  const { metrics, latency } = deps;
  const answerSpec = deps.answerSpec ?? (() => NO_SPEC);
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
    const { body } = request;
    if (typeof body !== 'string') {
      headers['content-type'] = BINARY_TYPE;
      headers[HEADER_LENGTH] = String(body.headerLength);
    }
    const span = traceCall?.({
      model: modelName,
      variant: variant.name,
      version: variant.version,
      url: `${endpoint.url}${endpoint.grpc ? GRPC_INFER_PATH : request.path}`,
      attempt: request.number,
    });
    span?.inject(headers);
    const result = endpoint.grpc
      ? await grpcExchange(
          endpoint.grpc,
          variant.model,
          variant.version,
          { inference: request.ctx.inference, body },
          request.timeoutMs,
          headers,
        )
      : await exchange(
          endpoint,
          request.path,
          typeof body === 'string' ? body : body.bytes,
          request.timeoutMs,
          headers,
        );
    span?.end(result.status, result.serverTiming, result.timedOut);
    const elapsed = performance.now() - started;
    durationHistogram(modelName, variant.name).observe(elapsed / 1000);
    if (result.status === 200) {
      const read = readAnswer(result.text, request.ctx.inference, answerSpec(variant));
      if (read.problem !== undefined) {
        // The endpoint's failure: another endpoint may answer, and it counts for ejection.
        attemptCounter(modelName, variant.name, 'malformed').inc();
        return { final: false, outcome: 'error', result, malformed: read.problem };
      }
      latency.record(elapsed);
      attemptCounter(modelName, variant.name, 'ok').inc();
      return { final: true, outcome: 'ok', reply: answer(read.response, result, variant) };
    }
    const refused = callerError(result);
    if (refused) {
      // The request caused it, not the endpoint: every endpoint would say the same, and no
      // endpoint, breaker or retry budget is charged for it.
      attemptCounter(modelName, variant.name, 'client_error').inc();
      return { final: true, outcome: 'ok', reply: refuse(refused) };
    }
    // 404 (this endpoint lacks the version), 408/429 (not now) and 503 (queue full, not ready)
    // were not processed: another endpoint may serve them. Connection errors, timeouts and other
    // 5xx count against the endpoint, except a timeout of an attempt given less time than the
    // model's recent p90: it was expected to run out (a caller's short deadline).
    const endpointFault = result.timedOut
      ? request.timeoutMs >= latency.p90Ms()
      : result.status === 0 || (result.status >= 500 && result.status !== 503);
    attemptCounter(modelName, variant.name, result.timedOut ? 'timeout' : 'retryable').inc();
    return { final: false, outcome: endpointFault ? 'error' : 'ok', result };
  };
}

/**
 * A runtime's 4xx is the request's fault (RFC 9110 §15.5: the client seems to have erred), except
 * 404 (this endpoint lacks the version: another may have it), 408 (the runtime timed out reading
 * what the gateway sent) and 429 (not now). 400, 413 and 422 are about the request's content: the
 * caller hears what the runtime said. Other refusals (401, 403, 405, 415, …) come from how the
 * gateway is set up to call the runtime, not from the runtime's health: 502 UPSTREAM_REFUSED.
 */
function callerError(result: ExchangeResult): GatewayError | undefined {
  const { status } = result;
  if (status < 400 || status >= 500 || status === 404 || status === 408 || status === 429) return undefined;
  if (status === 400 || status === 413 || status === 422) {
    return gatewayError('INPUT_INVALID', runtimeMessage(result));
  }
  return gatewayError('UPSTREAM_REFUSED', runtimeMessage(result));
}

function answer(response: InferResponse, result: ExchangeResult, variant: CallTarget): Reply {
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
