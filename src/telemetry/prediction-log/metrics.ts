import { Counter, Gauge, type Registry } from 'prom-client';

/** Registered once per process, next to the gateway's other metrics. */
export function createPredictionLogMetrics(registry: Registry, buffered: () => number = () => 0) {
  return {
    records: new Counter({
      name: 'switchyard_prediction_log_records_total',
      help: 'Prediction-log records by sink (redis | file) and outcome (ok | spilled | retried | error): ok were stored whole, spilled went from Redis to the file, retried were refused and kept for another try (counted per try), error were lost (could not be built, or still refused when the log closed).',
      labelNames: ['sink', 'outcome'] as const,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'switchyard_prediction_log_dropped_total',
      help: 'Records not taken because the buffer was full (buffer_full) or the log had closed (closed).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    buffered: new Gauge({
      name: 'switchyard_prediction_log_buffer_records',
      help: 'Records taken and not yet written.',
      registers: [registry],
      collect() {
        this.set(buffered());
      },
    }),
  };
}

export type PredictionLogMetrics = ReturnType<typeof createPredictionLogMetrics>;
