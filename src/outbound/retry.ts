import { performance } from 'node:perf_hooks';
import { gatewayError } from '../errors.js';
import { binaryBody } from '../shared/binary-tensors.js';
import { refuse } from '../pipeline/stage.js';
import { boundLabels } from '../telemetry/bound-labels.js';
import type { Endpoint, UpstreamPool } from '../runtime-pool/index.js';
import { runtimeMessage, type Attempt, type AttemptResult, type BinaryRequestBody } from './attempt.js';
import type { LatencyWindow } from './latency.js';
import type { OutboundMetrics } from './metrics.js';
import type { RetryBudget } from './retry-budget.js';
import type { CallTarget, VariantCall } from './variant-call.js';

/** Most endpoints one request tries; inference is idempotent, so a retry is safe. */
export const MAX_ATTEMPTS = 3;

export interface RetryDeps {
  pools: ReadonlyMap<string, Pick<UpstreamPool, 'lease'>>;
  /** The model's recent latency: a retry needs room for its p90. */
  latency: Pick<LatencyWindow, 'p90Ms'>;
  /** Read per call: a reload that changes the retry settings replaces the budget. */
  retryBudget: () => Pick<RetryBudget, 'deposit' | 'tryWithdraw'>;
  metrics: Pick<OutboundMetrics, 'retries'>;
  /** The model's `fallback_reserve_ms`: the reserve of a call that does not name its own. */
  defaultReserveMs: number;
}

/**
 * The call over the variant's pool: each attempt on an endpoint leased from the pool, on another
 * one after a connection error, a 5xx or a malformed answer while the retry budget allows and the remaining time
 * still covers the model's recent p90 latency. Past the last attempt, says why the call failed:
 * out of time, no endpoint, or what the runtime last answered.
 */
export function withRetries(modelName: string, attempt: Attempt, deps: RetryDeps): VariantCall {
  const { latency } = deps;
  const retryCounter = boundLabels((l) => deps.metrics.retries.labels(l), ['model', 'variant'] as const);
  // Each variant's runtime path, built on its first call rather than on every one (variants are
  // the config's objects, the same on every request).
  const paths = new WeakMap<CallTarget, string>();
  const pathOf = (variant: CallTarget): string => {
    let path = paths.get(variant);
    if (path === undefined) {
      path = `/v2/models/${encodeURIComponent(variant.model)}/versions/${encodeURIComponent(variant.version)}/infer`;
      paths.set(variant, path);
    }
    return path;
  };

  return async (ctx, variant, reserveMs = deps.defaultReserveMs) => {
    const pool = deps.pools.get(variant.upstream);
    if (!pool) return refuse(gatewayError('INTERNAL', `no pool for upstream "${variant.upstream}"`));
    const path = pathOf(variant);
    const text = (ctx.inferenceText ??= JSON.stringify(ctx.inference));
    // Binary inputs go on as they came, after the JSON (the binary tensor extension): one buffer
    // for every attempt of the call.
    const tensors = ctx.inferenceTensors;
    const body = tensors === undefined ? text : binaryRequestBody(text, tensors);
    const tried = new Set<Endpoint>();
    const budget = deps.retryBudget();
    budget.deposit();
    let last: Extract<AttemptResult, { final: false }> | undefined;

    for (let number = 1; number <= MAX_ATTEMPTS; number++) {
      const timeoutMs = Math.floor(ctx.deadline - performance.now() - reserveMs);
      if (timeoutMs <= 0) break;
      if (number > 1 && (timeoutMs < latency.p90Ms() || !budget.tryWithdraw())) break;
      const leased = pool.lease(tried, (endpoint) => {
        tried.add(endpoint);
        return attempt(endpoint, { ctx, variant, path, body, timeoutMs, number });
      });
      if (!leased) break; // no endpoint left that was not tried
      if (number > 1) retryCounter(modelName, variant.name).inc();
      const result = await leased;
      if (result.final) return result.reply;
      last = result;
      if (last.result.timedOut) break;
    }

    const outOfTime = ctx.deadline - performance.now() - reserveMs <= 0;
    if (!last) {
      return refuse(
        outOfTime
          ? gatewayError('BUDGET_EXHAUSTED', 'no time left to call the runtime')
          : gatewayError(
              'UPSTREAM_NO_ENDPOINT',
              `upstream "${variant.upstream}" has no endpoint in rotation`,
            ),
      );
    }
    if (last.result.timedOut || outOfTime) {
      return refuse(gatewayError('BUDGET_EXHAUSTED', `variant ${variant.name} did not answer in time`));
    }
    if (last.malformed !== undefined) {
      return refuse(gatewayError('UPSTREAM_MALFORMED_ANSWER', `variant ${variant.name}: ${last.malformed}`));
    }
    return refuse(gatewayError('UPSTREAM_FAILED', `variant ${variant.name}: ${runtimeMessage(last.result)}`));
  };
}

/** A request with binary inputs: the JSON, then their bytes, and the JSON's length for its header. */
function binaryRequestBody(text: string, tensors: readonly Buffer[]): BinaryRequestBody {
  const { body, headerLength } = binaryBody(text, tensors);
  return { bytes: body, headerLength };
}
