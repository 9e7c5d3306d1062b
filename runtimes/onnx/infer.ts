import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import { tracingEnabled } from '../../src/shared/tracing.js';
import type { BatchRun, BatchWaiter } from './batcher/message.js';
import { RuntimeError, badRequest, notFound } from './errors.js';
import type { RequestOutcome, RequestTally } from './metrics.js';
import { latestReadyVersion, type ModelVersion, type RepositoryModel } from './repository/load.js';
import type { RuntimeState } from './state.js';
import type { TensorConfig } from './repository/config.js';
import type { InferBody } from './body.js';
import { decodeRequest, outputBinary, outputJson, type DecodedRequest } from './tensors.js';

/** Where an inference request's answer goes: exactly one of these is called, once. */
export interface InferReply {
  /**
   * A 200: the response's JSON and its `server-timing` header; with `tensors`, the JSON is
   * followed by these binary tensors' bytes (the binary tensor extension).
   */
  answer(json: string, serverTiming: string, tensors?: readonly Uint8Array[]): void;
  /** A failure as it came (RuntimeError for the protocol's errors); the caller makes the response. */
  fail(error: unknown): void;
}

/**
 * One inference request, whatever carried it: decode, queue in the version's batcher, answer.
 * Callbacks rather than a promise: on the hot path a request then costs no promise chain.
 */
export type Infer = (
  model: string,
  version: string | undefined,
  body: InferBody,
  headers: IncomingHttpHeaders,
  reply: InferReply,
) => void;

export interface InferOptions {
  /** Added to every answer: stands in for a slow model in tests and benchmarks. */
  addedLatencyMs?: number;
}

/** What a version's answers share, worked out on its first request. */
interface Endpoint {
  tally: RequestTally;
  /** `{"model_name":…,"model_version":…,"outputs":[` */
  head: string;
}

/** What every pending request of one runtime shares. */
interface InferContext {
  state: RuntimeState;
  addedLatencyMs: number;
  serverTiming: (batch: BatchRun, queueMs: number) => string;
}

const tracer = trace.getTracer('switchyard-runtime');

export function createInfer(state: RuntimeState, options: InferOptions): Infer {
  const { repository, metrics } = state;
  const endpoints = new WeakMap<ModelVersion, Endpoint>();
  const context: InferContext = {
    state,
    addedLatencyMs: options.addedLatencyMs ?? 0,
    serverTiming: serverTimingFormat(),
  };

  function endpointOf(model: RepositoryModel, version: ModelVersion): Endpoint {
    let endpoint = endpoints.get(version);
    if (!endpoint) {
      endpoint = {
        tally: metrics.requestTally(model.name, version.version),
        head: `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(version.version)},"outputs":[`,
      };
      endpoints.set(version, endpoint);
    }
    return endpoint;
  }

  return (modelName, versionName, body, headers, reply) => {
    const model = repository.models.get(modelName);
    let endpoint: Endpoint | undefined;
    // Asked per request, so a provider registered after the start is used (a module variable:
    // with tracing off, the tracing API is never called).
    const span = tracingEnabled() ? startInferSpan(headers, modelName) : undefined;
    let version: ModelVersion;
    let decoded: DecodedRequest;
    let deadline: number;
    try {
      if (!model) throw notFound(`unknown model "${modelName}"`);
      version = pickVersion(model, versionName);
      endpoint = endpointOf(model, version);
      const { config } = model;
      decoded = decodeRequest(body, config.inputs, config.outputs, config.max_batch_size);
      deadline = deadlineFrom(headers['x-request-timeout-ms']);
    } catch (error) {
      // Labels only ever hold names from the repository, so a client cannot grow the series.
      refuse(
        endpoint?.tally ?? metrics.requestTally(model ? model.name : '_unknown', ''),
        span,
        reply,
        error,
      );
      return;
    }
    const id = (body.request as { id?: string }).id;
    const pending = new PendingInfer(context, reply, endpoint, version.version, decoded, id, span);
    state.accepted++;
    version.batcher!.submit(decoded.inputs, decoded.rows, deadline, pending);
  };
}

/** A request in a batcher, answering its caller when its batch ran (the batcher's waiter). */
class PendingInfer implements BatchWaiter {
  private readonly outputs: readonly TensorConfig[];
  private readonly binaryOutputs: readonly boolean[] | undefined;
  private readonly rows: number;

  constructor(
    private readonly context: InferContext,
    private readonly reply: InferReply,
    private readonly endpoint: Endpoint,
    private readonly version: string,
    decoded: DecodedRequest,
    private readonly id: string | undefined,
    private readonly span: Span | undefined,
  ) {
    // Not the decoded inputs: the batcher holds those only until the run.
    this.outputs = decoded.outputs;
    this.binaryOutputs = decoded.binaryOutputs;
    this.rows = decoded.rows;
  }

  resolve(batch: BatchRun, row: number, queueMs: number): void {
    // Before the added latency, which stands in for a slow model but is no part of the batch.
    if (this.span) recordSpans(this.span, batch, queueMs, this.version);
    if (this.context.addedLatencyMs > 0) {
      setTimeout(() => this.answer(batch, row, queueMs), this.context.addedLatencyMs);
    } else {
      this.answer(batch, row, queueMs);
    }
  }

  reject(error: RuntimeError): void {
    refuse(this.endpoint.tally, this.span, this.reply, error);
  }

  private answer(batch: BatchRun, row: number, queueMs: number): void {
    let json = this.endpoint.head;
    let serverTiming: string;
    let tensors: Uint8Array[] | undefined;
    try {
      for (let i = 0; i < this.outputs.length; i++) {
        const spec = this.outputs[i]!;
        if (i > 0) json += ',';
        const tensor = batch.outputs.get(spec.name)!;
        if (this.binaryOutputs?.[i]) {
          const output = outputBinary(spec, tensor, batch.rows, row, this.rows);
          json += output.json;
          (tensors ??= []).push(output.bytes);
        } else {
          json += outputJson(spec, tensor, batch.rows, row, this.rows);
        }
      }
      json += this.id === undefined ? ']}' : `],"id":${JSON.stringify(this.id)}}`;
      serverTiming = this.context.serverTiming(batch, queueMs);
    } catch (error) {
      refuse(this.endpoint.tally, this.span, this.reply, error);
      return;
    }
    this.context.state.answered++;
    this.endpoint.tally.add('ok');
    if (this.span) endInferSpan(this.span, 'ok');
    this.reply.answer(json, serverTiming, tensors);
  }
}

function refuse(tally: RequestTally, span: Span | undefined, reply: InferReply, error: unknown): void {
  const outcome = outcomeOf(error);
  tally.add(outcome);
  if (span) endInferSpan(span, outcome);
  reply.fail(error);
}

export function findVersion(model: RepositoryModel, version: string): ModelVersion {
  const entry = model.versions.get(version);
  if (!entry) throw notFound(`model "${model.name}" has no version "${version}"`);
  return entry;
}

function pickVersion(model: RepositoryModel, version: string | undefined): ModelVersion {
  const entry = version === undefined ? latestReadyVersion(model) : findVersion(model, version);
  if (!entry) throw new RuntimeError(503, `model "${model.name}" has no ready version yet`);
  if (entry.state !== 'ready') {
    const why = entry.reason ? `: ${entry.reason}` : ' (still loading)';
    throw new RuntimeError(503, `model "${model.name}" version "${entry.version}" is not ready${why}`);
  }
  return entry;
}

/** `x-request-timeout-ms` is the caller's remaining budget; the batcher drops work past it. */
function deadlineFrom(header: string | string[] | undefined): number {
  if (header === undefined) return Number.POSITIVE_INFINITY;
  const ms = Number(header);
  if (typeof header !== 'string' || header.trim() === '' || !Number.isFinite(ms) || ms < 0) {
    throw badRequest(`x-request-timeout-ms: ${JSON.stringify(header)} is not a number of milliseconds`);
  }
  return performance.now() + ms;
}

/**
 * `server-timing` of an answer. A run's answers go out one after the other, so its part of the
 * header is formatted once and kept until the next run's first answer.
 */
function serverTimingFormat(): (batch: BatchRun, queueMs: number) => string {
  let timed: BatchRun | undefined;
  let batchPart = '';
  return (batch, queueMs) => {
    if (batch !== timed) {
      timed = batch;
      batchPart = `, infer;dur=${batch.inferMs.toFixed(3)}, batch;desc="${batch.rows}"`;
    }
    return `queue;dur=${queueMs.toFixed(3)}${batchPart}`;
  };
}

function outcomeOf(error: unknown): RequestOutcome {
  if (!(error instanceof RuntimeError))
    return (error as { statusCode?: number }).statusCode === 400 ? 'bad_request' : 'error';
  switch (error.status) {
    case 400:
    case 413:
      return 'bad_request';
    case 404:
      return 'not_found';
    case 503:
      return 'queue_full';
    case 504:
      return 'deadline';
    default:
      return 'error';
  }
}

function startInferSpan(headers: IncomingHttpHeaders, model: string): Span | undefined {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer.startSpan(
    'runtime.infer',
    { kind: SpanKind.SERVER, attributes: { 'switchyard.model': model } },
    parent,
  );
  if (!span.isRecording()) return undefined;
  return span;
}

/** runtime.queue and runtime.session_run, placed back in time from the batch's own durations. */
function recordSpans(span: Span, batch: BatchRun, queueMs: number, version: string): void {
  span.setAttributes({
    'switchyard.version': version,
    'switchyard.batch_size': batch.rows,
    'switchyard.runtime.queue_ms': queueMs,
    'switchyard.runtime.infer_ms': batch.inferMs,
  });
  const context = trace.setSpan(ROOT_CONTEXT, span);
  const end = performance.now();
  const runStart = end - batch.inferMs;
  tracer.startSpan('runtime.queue', { startTime: runStart - queueMs }, context).end(runStart);
  tracer
    .startSpan(
      'runtime.session_run',
      { startTime: runStart, attributes: { 'switchyard.batch_size': batch.rows } },
      context,
    )
    .end(end);
}

function endInferSpan(span: Span, outcome: RequestOutcome): void {
  span.setAttribute('switchyard.outcome', outcome);
  // A refused request (bad input, unknown model) is the caller's fault, not a runtime error.
  if (outcome === 'error' || outcome === 'queue_full' || outcome === 'deadline') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}
