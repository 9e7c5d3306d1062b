import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { createLogger, flushLogger } from '../../src/shared/logger.js';
import { setupTracing } from '../../src/shared/tracing.js';
import { createRuntimeMetrics } from './metrics.js';
import { loadRepository } from './repository/load.js';
import type { RuntimeOptions } from './options.js';
import { startGrpcListener, type GrpcListener } from './grpc/server.js';
import { createInfer } from './infer.js';
import { buildRuntimeApp } from './server.js';
import type { RuntimeState } from './state.js';

export interface RuntimeHandle {
  url: string;
  /** The gRPC listener's port, when --grpc-port was given. */
  grpcPort: number | undefined;
  app: FastifyInstance;
  state: RuntimeState;
  /** Turns not-ready, finishes every accepted request, closes. False when the grace ran out first. */
  shutdown(): Promise<boolean>;
}

export async function startRuntime(options: RuntimeOptions): Promise<RuntimeHandle> {
  const metrics = createRuntimeMetrics();
  const logger = createLogger(options.logLevel);
  const repository = await loadRepository(options.repository, {
    logger,
    observer: (model, version) => {
      const labels = { model, version };
      const batchSize = metrics.batchSize.labels(labels);
      const computeDuration = metrics.computeDuration.labels(labels);
      const queueDuration = metrics.queueDuration.labels(labels);
      return {
        batch(rows, inferMs, queueMs) {
          batchSize.observe(rows);
          computeDuration.observe(inferMs / 1000);
          for (const ms of queueMs) queueDuration.observe(ms / 1000);
        },
      };
    },
  });
  const state: RuntimeState = {
    repository,
    metrics,
    loaded: false,
    draining: false,
    accepted: 0,
    answered: 0,
  };
  // Registers a tracer provider only when OTEL_EXPORTER_OTLP_ENDPOINT is set (see README).
  const tracing = setupTracing({ serviceName: 'switchyard-runtime', logger });
  const app = buildRuntimeApp(state, {
    bodyLimit: options.bodyLimit,
    jsonDepth: options.jsonDepth,
    logger,
    addedLatencyMs: options.addedLatencyMs,
    clientLimits: options.clientLimits,
  });
  // Listen before the models finish loading: live at once, ready when loaded.
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  // Bound before the HTTP line is logged: whoever waits for that line can call gRPC next.
  const grpc: GrpcListener | undefined =
    options.grpcPort === undefined
      ? undefined
      : await startGrpcListener(
          state,
          createInfer(state, { addedLatencyMs: options.addedLatencyMs, protocol: 'grpc' }),
          {
            host: options.host,
            port: options.grpcPort,
            maxMessageBytes: options.bodyLimit,
            logger,
          },
        );
  app.log.info({ role: 'runtime', url, ...(grpc ? { grpc_port: grpc.port } : {}) }, 'switchyard listening');
  void state.repository.loaded.then(() => {
    state.loaded = true;
    app.log.info({ models: [...state.repository.models.keys()] }, 'runtime ready');
  });

  let stopping: Promise<boolean> | undefined;
  async function shutdown(): Promise<boolean> {
    state.draining = true;
    app.log.info({ drain_delay_ms: options.drainDelayMs, grace_ms: options.graceMs }, 'draining');
    await sleep(options.drainDelayMs);
    // gRPC stops taking calls (GOAWAY) and waits for those in flight, as HTTP does.
    const closed = Promise.all([app.close(), grpc?.close()]).then(() => true);
    const expired = sleep(options.graceMs, false, { ref: false });
    const finished = await Promise.race([closed, expired]);
    if (!finished) grpc?.forceClose();
    await tracing.shutdown(); // exports the spans still buffered
    app.log.info({ accepted: state.accepted, answered: state.answered, finished }, 'runtime stopped');
    await flushLogger(logger); // the process exits next: nothing logged may stay behind
    return finished;
  }
  return {
    url,
    grpcPort: grpc?.port,
    app,
    state,
    shutdown: () => (stopping ??= shutdown()),
  };
}
