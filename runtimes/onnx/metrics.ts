import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../src/shared/process-metrics.js';
import { createRefusalCounter } from '../../src/shared/http/refusal.js';
import { registerLogSinkMetrics } from '../../src/shared/log-sink-metrics.js';

const SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export const REQUEST_OUTCOMES = [
  'ok',
  'bad_request',
  'not_found',
  'queue_full',
  'deadline',
  'error',
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** The transport an inference request came by. */
export type RequestProtocol = 'http' | 'grpc';

/**
 * One model version's requests over one protocol by outcome, counted in plain numbers and added to
 * `switchyard_runtime_requests_total` when the registry is read: an answer costs an increment
 * instead of prom-client hashing and validating its labels.
 */
export class RequestTally {
  private readonly pending: Record<RequestOutcome, number> = {
    ok: 0,
    bad_request: 0,
    not_found: 0,
    queue_full: 0,
    deadline: 0,
    error: 0,
  };

  constructor(
    readonly protocol: RequestProtocol,
    readonly model: string,
    readonly version: string,
  ) {}

  add(outcome: RequestOutcome): void {
    this.pending[outcome]++;
  }

  /** Moves the pending counts into the counter. */
  flush(counter: Counter<'model' | 'version' | 'outcome' | 'protocol'>): void {
    for (const outcome of REQUEST_OUTCOMES) {
      const count = this.pending[outcome];
      if (count === 0) continue;
      this.pending[outcome] = 0;
      counter.inc({ model: this.model, version: this.version, outcome, protocol: this.protocol }, count);
    }
  }
}

/**
 * The runtime's metrics, declared in one place. Labels stay bounded: model and version, and the
 * request counter's outcome and protocol.
 */
export function createRuntimeMetrics() {
  const registry = new Registry();
  collectProcessMetrics(registry, 'switchyard_runtime_process_');
  registerLogSinkMetrics(registry, 'switchyard_runtime');
  const labels = ['model', 'version'] as const;
  const tallies = new Map<string, RequestTally>();
  return {
    registry,
    requests: new Counter({
      name: 'switchyard_runtime_requests_total',
      help: 'Inference requests by model, version, outcome and protocol (http or grpc).',
      labelNames: [...labels, 'outcome', 'protocol'],
      registers: [registry],
      collect() {
        for (const tally of tallies.values()) tally.flush(this);
      },
    }),
    /**
     * The tally of one protocol, model and version (version '' for requests refused before one
     * was chosen). Labels only ever hold names from the repository, so a client cannot grow the series.
     */
    requestTally(protocol: RequestProtocol, model: string, version: string): RequestTally {
      const key = `${protocol}/${model}/${version}`;
      let tally = tallies.get(key);
      if (!tally) tallies.set(key, (tally = new RequestTally(protocol, model, version)));
      return tally;
    },
    queueDuration: new Histogram({
      name: 'switchyard_runtime_queue_duration_seconds',
      help: 'Time a request waited in the batcher before its session.run started.',
      labelNames: labels,
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    computeDuration: new Histogram({
      name: 'switchyard_runtime_compute_duration_seconds',
      help: 'Duration of one session.run (one batch).',
      labelNames: labels,
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'switchyard_runtime_batch_size',
      help: 'Rows per session.run; its _count is the number of runs.',
      labelNames: labels,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'switchyard_runtime_queue_depth',
      help: 'Requests queued in the batcher, not yet running.',
      labelNames: labels,
      registers: [registry],
    }),
    versionReady: new Gauge({
      name: 'switchyard_runtime_model_ready',
      help: '1 when the model version is loaded, verified and warmed up.',
      labelNames: labels,
      registers: [registry],
    }),
    /** Requests and connections the HTTP server refused on its own: malformed, too slow, over the cap. */
    httpRefused: createRefusalCounter(registry, 'switchyard_runtime_http_refused_total'),
    providerInfo: new Gauge({
      name: 'switchyard_runtime_provider_info',
      help: 'The execution provider each model version runs on (value 1).',
      labelNames: [...labels, 'provider'],
      registers: [registry],
    }),
  };
}

export type RuntimeMetrics = ReturnType<typeof createRuntimeMetrics>;
