import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { loadConfigFile } from '../config/load.js';
import { watchConfig, type ConfigWatcher } from '../config/watch.js';
import { ActiveGateway } from './active.js';
import { buildGateway } from './build.js';
import { ModelStates } from './model-state.js';
import { ReloadRecord } from './reload-record.js';
import { RolloutRegistry } from '../delivery/registry.js';
import { DriftRegistry } from '../drift/registry.js';
import { MetadataRegistry } from '../stages/validate/metadata.js';
import { closeRedisClient, createRedisClient, createState } from '../ratelimit/index.js';
import { createRedisRolloutStores } from '../delivery/redis-store.js';
import { startGatewayGrpc } from '../grpc/server.js';
import { createModelRequestHandler } from '../http/model-request.js';
import { buildGatewayHttp } from '../http/server.js';
import { createModelsView } from '../console/index.js';
import { createLogger, flushLogger } from '../shared/logger.js';
import { createDeferredTasks } from '../telemetry/deferred.js';
import { createGatewayMetrics } from '../telemetry/metrics.js';
import { createPredictionLog } from '../telemetry/prediction-log/index.js';
import { setupTracing } from '../shared/tracing.js';

export interface GatewayOptions {
  config: string;
  /** Override the config's listen address (tests use port 0). */
  port?: number;
  host?: string;
  logLevel: string;
  /** How long to keep serving, not ready, after SIGTERM before closing the listener. */
  drainDelayMs: number;
  /** Longest a shutdown may take; in-flight requests get this long to finish. */
  graceMs: number;
  /** How often the config file is polled besides the file watchers. */
  pollMs?: number;
  /** The gRPC front door's port (inference.GRPCInferenceService, src/grpc/); undefined: none, 0: any free port. */
  grpcPort?: number;
}

export interface GatewayHandle {
  url: string;
  /** The gRPC front door's port, when grpcPort was given. */
  grpcPort: number | undefined;
  app: FastifyInstance;
  active: ActiveGateway;
  shutdown(): Promise<boolean>;
}

/** A config the gateway will not serve; the command prints its problems, not a stack (src/cli/main.ts). */
export class ConfigInvalidError extends Error {
  override name = 'ConfigInvalidError';
}

/** A rollout's round trip to Redis may take this long; the request path never waits on it. */
const ROLLOUT_REDIS_TIMEOUT_MS = 1000;

/** How long a shutdown waits for mirrored calls in flight, so their outcome reaches the log. */
const SHADOW_SETTLE_MS = 1000;

async function shadowsSettled(models: ModelStates, active: ActiveGateway, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const inFlight = () =>
    [...active.version.models.keys()].reduce((n, name) => n + (models.stats(name)?.shadows.inFlight ?? 0), 0);
  while (inFlight() > 0 && Date.now() < deadline) await sleep(10);
}

/** Loads and freezes the config, builds the pipelines, listens, and follows edits to the file. */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const logger = createLogger(options.logLevel);
  const loaded = await loadConfigFile(options.config);
  if (!loaded.ok) {
    const list = loaded.problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n');
    throw new ConfigInvalidError(`${options.config} is not valid:\n${list}`);
  }
  // Only with OTEL_EXPORTER_OTLP_ENDPOINT set; before anything is built, since pipelines and the
  // HTTP handler decide once, when built, whether to make spans.
  const tracing = setupTracing({ serviceName: 'switchyard-gateway', logger });
  const models = new ModelStates(logger);
  const metrics = createGatewayMetrics(models);
  // What runs on a request's behalf after its answer (shadows, records, cache writes,
  // notifications) fails without failing the process: counted and logged.
  const deferred = createDeferredTasks(metrics.deferredFailures, logger);
  const { config } = loaded.snapshot;
  // State (rate limits; later the cache and the prediction log) lives for the process: changing
  // state.redis_url takes a restart, which the reload log says.
  const state = createState(
    { redis_url: config.state.redis_url, failure_mode: config.state.ratelimit_failure_mode },
    { metrics: metrics.state, logger },
  );
  const metadata = new MetadataRegistry(logger);
  // Like state, for the process: prediction_log is read at start.
  const predictionLog = createPredictionLog(config.prediction_log, {
    registry: metrics.registry,
    logger,
    redisUrl: config.state.redis_url,
  });
  // Rollouts run for the process, kept across reloads while their policy stays the same; with
  // Redis, every replica shares each one (a lease picks the replica that judges). They get their
  // own connection: their round trips carry a second of evidence at once, which must neither
  // wait behind nor delay the request path's commands, and may take longer than its 50 ms.
  const rolloutRedis = config.state.redis_url
    ? createRedisClient(config.state.redis_url, {
        command_timeout_ms: ROLLOUT_REDIS_TIMEOUT_MS,
        auto_pipelining: false,
        logger,
      })
    : undefined;
  const rollouts = new RolloutRegistry({
    logger,
    metrics: metrics.delivery,
    deferred,
    ...(rolloutRedis ? { stores: createRedisRolloutStores(rolloutRedis) } : {}),
  });
  const closeRollouts = async (): Promise<void> => {
    rollouts.close();
    if (rolloutRedis) await closeRedisClient(rolloutRedis);
  };
  // Drift trackers run for the process too, kept across reloads with their references.
  const drift = new DriftRegistry({ metrics: metrics.drift });
  const shared = {
    metrics,
    logger,
    models,
    rollouts,
    drift,
    limiter: state.limiter,
    metadata,
    redis: state.redis,
    predictionLog,
    deferred,
  };
  let first;
  try {
    first = buildGateway(loaded.snapshot, shared);
  } catch (error) {
    await predictionLog.close();
    await state.close();
    await tracing.shutdown();
    await closeRollouts();
    drift.close();
    throw new ConfigInvalidError(`${options.config} cannot be served: ${(error as Error).message}`);
  }
  first.apply();
  const active = new ActiveGateway(first.gateway, metrics);
  const lifecycle = { draining: false };
  const reloads = new ReloadRecord();
  // Samples the counters every few seconds for the admin API's last-minute figures and the console's charts.
  const modelsView = createModelsView({ active, registry: metrics.registry, models, rollouts });
  const app = buildGatewayHttp({
    active,
    metrics,
    models,
    rollouts,
    logger,
    predictionLog,
    bodyLimit: config.limits.body_bytes,
    jsonDepth: config.limits.json_depth,
    clientLimits: {
      headerTimeoutMs: config.limits.header_timeout_ms,
      bodyTimeoutMs: config.limits.body_timeout_ms,
      requestTimeoutMs: config.limits.request_timeout_ms,
      maxConnections: config.limits.max_connections,
    },
    lifecycle,
    reloads,
    modelsView,
  });

  await app.listen({ host: options.host ?? config.listen.host, port: options.port ?? config.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  const host = options.host ?? config.listen.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Bound before the listening line: whoever waits for it can call gRPC next.
  const grpc =
    options.grpcPort === undefined
      ? undefined
      : await startGatewayGrpc({
          handle: createModelRequestHandler({
            active,
            predictionLog,
            lifecycle,
            logger,
            jsonDepth: config.limits.json_depth,
          }),
          active,
          lifecycle,
          host,
          port: options.grpcPort,
          maxMessageBytes: config.limits.body_bytes,
          logger,
        });
  logger.info(
    { role: 'gateway', url, config: loaded.snapshot.hash, ...(grpc ? { grpc_port: grpc.port } : {}) },
    'switchyard listening',
  );

  const watcher: ConfigWatcher = watchConfig(
    options.config,
    {
      onSnapshot(snapshot) {
        if (snapshot.hash === active.version.snapshot.hash) return; // comments or formatting only
        try {
          if (snapshot.config.state.redis_url !== config.state.redis_url) {
            logger.warn({}, 'state.redis_url changed: it takes effect at the next restart');
          }
          if (!isDeepStrictEqual(snapshot.config.prediction_log, config.prediction_log)) {
            logger.warn({}, 'prediction_log changed: it takes effect at the next restart');
          }
          // Built without touching what serves now; applied and swapped in one synchronous step.
          const next = buildGateway(snapshot, { ...shared, previous: active.version });
          next.apply();
          active.swap(next.gateway);
          metrics.configReloads.inc({ outcome: 'ok' });
          reloads.ok(snapshot.hash);
          logger.info({ config: snapshot.hash }, 'config reloaded');
        } catch (error) {
          metrics.configReloads.inc({ outcome: 'error' });
          reloads.error(error);
          logger.error({ err: error }, 'config reload failed; the previous config keeps serving');
        }
      },
      onInvalid(problems) {
        metrics.configReloads.inc({ outcome: 'invalid' });
        reloads.invalid(problems);
        for (const problem of problems)
          logger.error({ path: problem.path || '/', problem: problem.message }, 'config reload refused');
      },
      onError(error) {
        metrics.configReloads.inc({ outcome: 'error' });
        reloads.error(error);
        logger.error({ err: error }, 'config file unreadable; the previous config keeps serving');
      },
    },
    { initial: loaded.snapshot, ...(options.pollMs ? { poll_ms: options.pollMs } : {}) },
  );

  async function shutdown(): Promise<boolean> {
    lifecycle.draining = true;
    logger.info({ drain_delay_ms: options.drainDelayMs }, 'draining');
    watcher.close();
    await sleep(options.drainDelayMs);
    const closed = Promise.all([app.close(), grpc?.close()]).then(() => true);
    const finished = await Promise.race([closed, sleep(options.graceMs, false, { ref: false })]);
    if (!finished) grpc?.forceClose();
    // Every answer has been sent, so its record is taken; shadow copies still in flight get a
    // moment to report, then everything held is written before the process exits.
    await shadowsSettled(models, active, SHADOW_SETTLE_MS);
    await predictionLog.close();
    await active.close();
    metadata.close();
    modelsView.close();
    models.close();
    await closeRollouts();
    drift.close();
    await state.close();
    await tracing.shutdown(); // exports the spans still buffered
    logger.info({ finished }, 'gateway stopped');
    await flushLogger(logger); // the process exits next: nothing logged may stay behind
    return finished;
  }
  let stopping: Promise<boolean> | undefined;
  return { url, grpcPort: grpc?.port, app, active, shutdown: () => (stopping ??= shutdown()) };
}
