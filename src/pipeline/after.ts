import type { Logger } from '../shared/logger.js';
import type { ModelConfig } from '../config/schema.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import type { DeferredTask, DeferredTasks } from '../telemetry/deferred.js';
import type { GatewayMetrics } from '../telemetry/metrics.js';
import { predictionRecord, roundMs, type PredictionLog } from '../telemetry/prediction-log/index.js';
import { createRequestLog, type RequestLogFields } from '../telemetry/request-log.js';
import { formatServerTiming } from '../telemetry/server-timing.js';
import type { AfterStep, Finished } from './stage.js';

/**
 * The after-phase's steps: what happens to every answered model request once its answer is
 * ready, whatever the stages did. Each is given the finished request as a value; src/pipeline/
 * build.ts lists them in order.
 */

/** `server-timing` on the answer: where the milliseconds went, stage by stage and in the runtime. */
export function serverTimingHeader(): AfterStep {
  return ({ ctx, reply, stageNames, pipelineMs, finishedAt }) => {
    ctx.headersOut['server-timing'] = formatServerTiming({
      stageNames,
      stageMs: ctx.stageMs,
      runtimeTiming: reply.ok ? reply.runtimeTiming : undefined,
      reply,
      pipelineMs,
      totalMs: finishedAt - ctx.receivedAt,
      budgetLeftMs: ctx.deadline - finishedAt,
    });
  };
}

/** The request counted and timed by model, variant, version and outcome; each stage timed. */
export function requestMetrics(metrics: GatewayMetrics): AfterStep {
  const requestCounter = boundLabels((l) => metrics.requests.labels(l), [
    'model',
    'variant',
    'version',
    'endpoint',
    'outcome',
  ] as const);
  const requestHistogram = boundLabels((l) => metrics.requestDuration.labels(l), [
    'model',
    'variant',
    'version',
    'outcome',
  ] as const);
  return ({ ctx, reply, response, stageNames, finishedAt }) => {
    const variant = ctx.variant?.name ?? '';
    const version = ctx.variant?.version ?? '';
    const outcome = reply.ok
      ? reply.fallback
        ? 'fallback'
        : 'ok'
      : response.status < 500
        ? 'client_error'
        : 'error';
    requestCounter(ctx.model, variant, version, ctx.endpoint, outcome).inc();
    requestHistogram(ctx.model, variant, version, outcome).observe((finishedAt - ctx.receivedAt) / 1000);
    metrics.stageDuration.observe(ctx.model, stageNames, ctx.stageMs);
  };
}

/** One info line per request (never the key or the raw features); a warning for a 5xx refusal. */
export function requestLogLine(logger: Logger): AfterStep {
  const requestLog = createRequestLog(logger);
  return ({ ctx, reply, response, finishedAt }) => {
    if (!reply.ok && reply.error.status >= 500) {
      logger.warn(
        { request_id: ctx.requestId, model: ctx.model, code: reply.error.code, err: reply.error.cause },
        reply.error.message,
      );
    }
    const logged: RequestLogFields = {
      request_id: ctx.requestId,
      model: ctx.model,
      endpoint: ctx.endpoint,
      variant: ctx.variant?.name ?? '',
      version: ctx.variant?.version,
      status: response.status,
      duration_ms: roundMs(finishedAt - ctx.receivedAt),
      fallback: reply.ok && reply.fallback ? `${reply.fallback.kind}; reason=${reply.fallback.reason}` : null,
    };
    if (!reply.ok) logged.code = reply.error.code;
    requestLog(logged);
  };
}

/**
 * The request's prediction record, built later, off the request path (hashing, copying inputs).
 * A record that cannot be built is counted here and rethrown: the log then counts it as lost.
 */
export function predictionLogRecord(
  predictionLog: PredictionLog,
  model: ModelConfig,
  deferred: Pick<DeferredTasks, 'failed'>,
): AfterStep {
  return ({ ctx, reply, response, finishedAt }) => {
    const at = Date.now();
    predictionLog.write(() => {
      try {
        return predictionRecord({ ctx, reply, response, model, latencyMs: finishedAt - ctx.receivedAt, at });
      } catch (error) {
        deferred.failed('prediction_record', error);
        throw error;
      }
    });
  };
}

/** A running rollout's evidence: each answer counted for its side (baseline or candidate). */
export function rolloutEvidence(evidence: { recordAnswer(finished: Finished): void }): AfterStep {
  return (finished) => evidence.recordAnswer(finished);
}

/**
 * An after-step that cannot fail the request: the answer is decided by then, so a step that
 * throws is counted and logged as `task`, and the steps after it still run.
 */
export function guarded(
  deferred: Pick<DeferredTasks, 'failed'>,
  task: DeferredTask,
  step: AfterStep,
): AfterStep {
  return (finished) => {
    try {
      step(finished);
    } catch (error) {
      deferred.failed(task, error);
    }
  };
}

/** Drift: the answer's scores and features counted into its variant's window (src/drift). */
export function driftSample(tracker: { record(finished: Finished): void }): AfterStep {
  return (finished) => tracker.record(finished);
}
