import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import { tracingEnabled } from '../../src/shared/tracing.js';
import type { BatchRun, BatchWaiter } from './batcher/message.js';
import { RuntimeError, badRequest, notFound } from './errors.js';
import type { RequestOutcome, RequestProtocol, RequestTally } from './metrics.js';
import { latestReadyVersion, type ModelVersion, type RepositoryModel } from './repository/load.js';
import type { RuntimeState } from './state.js';
import type { TensorConfig } from './repository/config.js';
import type { InferBody } from './body.js';
import { decodeRequest, outputBinary, outputJson, type DecodedRequest } from './tensors.js';

/** One request's rows of a run, to be written in the format of the transport that carried it. */
export interface InferAnswer {
  model: string;
  version: string;
  /** The request's `id`, to echo. */
  id: string | undefined;
  /** The outputs the caller asked for, in the order to answer them. */
  outputs: readonly TensorConfig[];
  batch: BatchRun;
  /** The request's rows of the run start at `row`; it has `rows` of them. */
  row: number;
  rows: number;
  /**
   * Per output, whether it goes as binary data (the binary tensor extension, HTTP only); undefined
   * when none does.
   */
  binaryOutputs: readonly boolean[] | undefined;
}

/**
 * Where an inference request's answer goes, and in what form: JSON text for HTTP, a protobuf
 * message for gRPC. `encode` may throw (a RuntimeError refuses the request); then `fail` is
 * called instead of `answer`. Exactly one of `answer` and `fail` is called, once.
 */
export interface InferReply<Encoded = string> {
  encode(answer: InferAnswer): Encoded;
  /** A success: the encoded answer and its `server-timing`. */
  answer(encoded: Encoded, serverTiming: string): void;
  /** A failure as it came (RuntimeError for the protocol's errors); the caller makes the response. */
  fail(error: unknown): void;
}

/**
 * One inference request, whatever carried it: decode, queue in the version's batcher, answer.
 * Callbacks rather than a promise: on the hot path a request then costs no promise chain.
 */
export type Infer = <Encoded>(
  model: string,
  version: string | undefined,
  body: InferBody,
  headers: IncomingHttpHeaders,
  reply: InferReply<Encoded>,
) => void;

export interface InferOptions {
  /** Added to every answer: stands in for a slow model in tests and benchmarks. */
  addedLatencyMs?: number;
  /** The `protocol` label of the request metrics: the transport this `infer` serves. */
  protocol?: RequestProtocol;
}

/** What a version's answers share, worked out on its first request. */
interface Endpoint {
  tally: RequestTally;
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
  const protocol = options.protocol ?? 'http';
  const endpoints = new WeakMap<ModelVersion, Endpoint>();
  const context: InferContext = {
    state,
    addedLatencyMs: options.addedLatencyMs ?? 0,
    serverTiming: serverTimingFormat(),
  };

  function endpointOf(model: RepositoryModel, version: ModelVersion): Endpoint {
    let endpoint = endpoints.get(version);
    if (!endpoint) {
      endpoint = { tally: metrics.requestTally(protocol, model.name, version.version) };
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
        endpoint?.tally ?? metrics.requestTally(protocol, model ? model.name : '_unknown', ''),
        span,
        reply,
        error,
      );
      return;
    }
    const id = (body.request as { id?: string }).id;
    const pending = new PendingInfer(
      context,
      reply,
      endpoint,
      model.name,
      version.version,
      decoded,
      id,
      span,
    );
    state.accepted++;
    version.batcher!.submit(decoded.inputs, decoded.rows, deadline, pending);
  };
}

/** A request in a batcher, answering its caller when its batch ran (the batcher's waiter). */
class PendingInfer<Encoded> implements BatchWaiter {
  private readonly outputs: readonly TensorConfig[];
  private readonly binaryOutputs: readonly boolean[] | undefined;
  private readonly rows: number;

  constructor(
    private readonly context: InferContext,
    private readonly reply: InferReply<Encoded>,
    private readonly endpoint: Endpoint,
    private readonly model: string,
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
    let encoded: Encoded;
    let serverTiming: string;
    try {
      encoded = this.reply.encode({
        model: this.model,
        version: this.version,
        id: this.id,
        outputs: this.outputs,
        batch,
        row,
        rows: this.rows,
        binaryOutputs: this.binaryOutputs,
      });
      serverTiming = this.context.serverTiming(batch, queueMs);
    } catch (error) {
      refuse(this.endpoint.tally, this.span, this.reply, error);
      return;
    }
    this.context.state.answered++;
    this.endpoint.tally.add('ok');
    if (this.span) endInferSpan(this.span, 'ok');
    this.reply.answer(encoded, serverTiming);
  }
}

/** An HTTP answer: its JSON, followed by these tensors' bytes when some outputs go as binary data. */
export interface HttpAnswer {
  json: string;
  tensors?: Uint8Array[];
}

/**
 * The Open Inference Protocol's JSON answer (REST, "Inference Response JSON Object"), with the
 * outputs asked for as binary data after it (Triton's binary tensor data extension,
 * docs/protocol/extension_binary_data.md).
 */
export function jsonAnswer(answer: InferAnswer): HttpAnswer {
  const { batch, row, rows, binaryOutputs } = answer;
  let json = `{"model_name":${JSON.stringify(answer.model)},"model_version":${JSON.stringify(answer.version)},"outputs":[`;
  let tensors: Uint8Array[] | undefined;
  for (let i = 0; i < answer.outputs.length; i++) {
    const spec = answer.outputs[i]!;
    if (i > 0) json += ',';
    const tensor = batch.outputs.get(spec.name)!;
    if (binaryOutputs?.[i]) {
      const output = outputBinary(spec, tensor, batch.rows, row, rows);
      json += output.json;
      (tensors ??= []).push(output.bytes);
    } else {
      json += outputJson(spec, tensor, batch.rows, row, rows);
    }
  }
  json += answer.id === undefined ? ']}' : `],"id":${JSON.stringify(answer.id)}}`;
  return tensors === undefined ? { json } : { json, tensors };
}

function refuse<Encoded>(
  tally: RequestTally,
  span: Span | undefined,
  reply: InferReply<Encoded>,
  error: unknown,
): void {
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
