import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../../config/schema.js';
import { decide } from '../../contract/features.js';
import type { NamedStage, Reply, RequestContext } from '../../pipeline/stage.js';
import { boundLabels } from '../../telemetry/bound-labels.js';
import type { ShadowReport } from '../../telemetry/prediction-log/record.js';
import type { Logger } from '../../shared/logger.js';
import type { DeferredTasks } from '../../telemetry/deferred.js';
import { BUCKETS, bucketOf } from '../route/assign.js';
import type { MetadataSource } from '../validate/metadata.js';
import type { VariantCall } from '../../outbound/variant-call.js';
import type { ShadowConfig } from './config.js';
import { batchRowsFor } from './batch.js';
import { compareAnswers, type Comparison } from './compare.js';
import type { ShadowMetrics } from './metrics.js';
import { createMirrorSender } from './sender.js';
import type { ShadowStats } from './stats.js';

export interface ShadowDeps {
  /** Calls a shadow through its own breaker, so a broken shadow stops being called. */
  call: VariantCall;
  stats: ShadowStats;
  metrics: ShadowMetrics;
  logger: Logger;
  random?: () => number;
  /** The shadow model's metadata, which says whether copies can share a call (see batch.ts). */
  metadataOf?: (shadow: ShadowConfig) => MetadataSource | undefined;
  /** Told how each mirrored copy went, once known (the prediction log's shadow records). */
  report?: (report: ShadowReport) => void;
  /** The model's running rollout: baseline requests are mirrored to its candidate at this percent. */
  rollout?: { mirrorPercent(): number };
  /** Where a failure in sending, comparing or reporting a copy is counted and logged. */
  deferred: Pick<DeferredTasks, 'later' | 'failed'>;
}

/** At most one logged disagreement per pair and second: a sample, not a flood. */
const LOG_INTERVAL_MS = 1000;

/**
 * Mirrors a share of requests to each shadow after the primary call has started, off the
 * critical path: the caller's answer, status, headers and latency never depend on a shadow. When
 * both answers are in, compares them (score delta, decision agreement) and counts the result.
 * Copies bound for a shadow in the same turn of the event loop share one call when the shadow's
 * runtime batches (src/stages/shadow/sender.ts): a copy then costs its rows, not an exchange.
 * A user is consistently in or out of a shadow: selection hashes the user key with a salt of
 * the shadow's own, so it does not follow the variant split.
 */
export function createShadow(modelName: string, model: ModelConfig, deps: ShadowDeps): NamedStage {
  const { shadows, contract } = model;
  const random = deps.random ?? Math.random;
  const lastLogged = new Map<string, number>();
  // Every metric of a (variant, shadow) pair, bound once: a mirrored copy updates four of them.
  const pairMetrics = boundLabels(
    (labels) => ({
      ok: deps.metrics.requests.labels({ ...labels, outcome: 'ok' }),
      error: deps.metrics.requests.labels({ ...labels, outcome: 'error' }),
      dropped: deps.metrics.requests.labels({ ...labels, outcome: 'dropped' }),
      agree: deps.metrics.comparisons.labels({ ...labels, agreement: 'agree' }),
      disagree: deps.metrics.comparisons.labels({ ...labels, agreement: 'disagree' }),
      scoreDelta: deps.metrics.scoreDelta.labels(labels),
      duration: deps.metrics.duration.labels(labels),
    }),
    ['model', 'variant', 'shadow'] as const,
  );

  function selected(shadow: ShadowConfig, percent: number, userKey: string | undefined): boolean {
    if (percent >= 100) return true;
    const bucket =
      userKey === undefined
        ? Math.floor(random() * BUCKETS)
        : bucketOf(`${model.routing.salt}:shadow:${shadow.name}`, userKey);
    return bucket < Math.round(percent * 100);
  }

  // A rollout mirrors the baseline's requests to its candidate, a variant served as a shadow.
  const rolloutMirror = model.rollout && deps.rollout ? candidateShadow(model) : undefined;
  const baselineName = model.rollout?.baseline;

  // One sender per shadow: the copies of one turn of the event loop leave together.
  const senders = new Map(
    [...shadows, ...(rolloutMirror ? [rolloutMirror] : [])].map((shadow) => {
      const metadata = deps.metadataOf?.(shadow);
      const rows = deps.metrics.batchRows.labels({ model: modelName, shadow: shadow.name });
      const sender = createMirrorSender(modelName, shadow, {
        call: deps.call,
        budgetMs: model.budget_ms,
        maxRows: () => batchRowsFor(metadata?.current(), model.shadow_batch_max_rows),
        observeRows: (n) => rows.observe(n),
        logger: deps.logger,
        deferred: deps.deferred,
      });
      return [shadow, sender] as const;
    }),
  );

  function mirror(ctx: RequestContext, shadow: ShadowConfig, primary: Promise<Reply>): void {
    // The copy lives as long as the shadow takes to answer; it keeps what it needs, not the
    // request's whole context, which would otherwise outlive young-generation GCs behind a slow
    // shadow (as the prediction log's entries did; src/telemetry/prediction-log/writer.ts).
    const { requestId } = ctx;
    const variant = ctx.variant!.name;
    const metrics = pairMetrics(modelName, variant, shadow.name);
    const pair = deps.stats.pair(variant, shadow.name);
    const report = (fields: Pick<ShadowReport, 'outcome'> & Partial<ShadowReport>): void =>
      deps.report?.({ requestId, model: modelName, variant, shadow, at: Date.now(), ...fields });
    if (deps.stats.inFlight >= model.shadow_max_concurrency) {
      pair.dropped++;
      metrics.dropped.inc();
      report({ outcome: 'dropped' });
      return;
    }
    deps.stats.inFlight++;
    pair.sent++;
    const settled = async (answer: Reply, latencyMs: number): Promise<void> => {
      metrics.duration.observe(latencyMs / 1000);
      if (!answer.ok || !answer.response) {
        pair.errors++;
        metrics.error.inc();
        report({ outcome: 'error', latencyMs, error: answer.ok ? 'no_response' : answer.error.code });
        return;
      }
      metrics.ok.inc();
      const first = await primary;
      const comparison =
        first.ok && !first.fallback && first.response
          ? compareAnswers(first.response, answer.response, contract)
          : undefined;
      if (!comparison) {
        report({ outcome: 'not_comparable', latencyMs }); // the primary failed or was replaced
        return;
      }
      report({
        outcome: 'compared',
        latencyMs,
        comparison,
        ...(contract ? { shadowDecision: decide(contract, comparison.shadowScore).decision } : {}),
      });
      pair.compared++;
      pair.deltaSum += comparison.delta;
      metrics.scoreDelta.observe(comparison.delta);
      (comparison.disagree ? metrics.disagree : metrics.agree).inc();
      if (comparison.disagree) {
        pair.disagreements++;
        logDisagreement(requestId, variant, shadow.name, comparison);
      }
    };
    senders.get(shadow)!({
      requestId,
      inference: ctx.inference!,
      // The primary's call has usually written the request's JSON by now: a copy alone sends it.
      inferenceText: ctx.inferenceText,
      inferenceTensors: ctx.inferenceTensors,
      // A comparison or report that throws is counted and logged at a bounded rate, not per copy.
      settle: (answer, latencyMs) =>
        void settled(answer, latencyMs)
          .catch((error: unknown) => deps.deferred.failed('shadow_compare', error))
          .finally(() => deps.stats.inFlight--),
    });
  }

  function logDisagreement(requestId: string, variant: string, shadow: string, comparison: Comparison): void {
    const key = `${variant}/${shadow}`;
    const now = performance.now();
    if (now - (lastLogged.get(key) ?? -Infinity) < LOG_INTERVAL_MS) return;
    lastLogged.set(key, now);
    deps.logger.info(
      {
        request_id: requestId,
        model: modelName,
        variant,
        shadow,
        primary_score: comparison.primaryScore,
        shadow_score: comparison.shadowScore,
      },
      'shadow disagrees',
    );
  }

  return {
    name: 'shadow',
    run(ctx, next) {
      const primary = next();
      for (const shadow of shadows) {
        if (shadow.percent > 0 && selected(shadow, shadow.percent, ctx.userKey)) mirror(ctx, shadow, primary);
      }
      if (rolloutMirror && ctx.variant!.name === baselineName) {
        const percent = deps.rollout!.mirrorPercent();
        if (percent > 0 && selected(rolloutMirror, percent, ctx.userKey)) mirror(ctx, rolloutMirror, primary);
      }
      return primary;
    },
  };
}

/** The rollout's candidate as a shadow of its baseline (percent is the controller's, read per request). */
function candidateShadow(model: ModelConfig): ShadowConfig | undefined {
  const candidate = model.variants.find((v) => v.name === model.rollout!.candidate);
  return (
    candidate && {
      name: candidate.name,
      upstream: candidate.upstream,
      model: candidate.model,
      version: candidate.version,
      percent: 0,
    }
  );
}
