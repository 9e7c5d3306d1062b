import type { ModelConfig } from '../../config/schema.js';
import type { GatewayError } from '../../errors.js';
import {
  answeredBy,
  type AssignmentSource,
  type EndpointKind,
  type HttpResponse,
  type Reply,
  type RequestContext,
} from '../../pipeline/stage.js';
import type { InferResponse } from '../../shared/oip.js';
import type { DecisionBody } from '../../stages/respond/render.js';
import { inputHash, loggedFeatures, loggedTensors } from './inputs.js';

/** One answered model request: what was asked (hashed), who answered, what was decided, how fast. */
export interface PredictionRecord {
  kind: 'prediction';
  time: string;
  request_id: string;
  /** The decision endpoint's `decision_id` as the caller got it; null elsewhere and on errors. */
  decision_id: string | null;
  tenant: string | null;
  model: string;
  endpoint: EndpointKind;
  /** The variant the user is assigned to, as in metrics and the request log (null before routing). */
  variant: string | null;
  version: string | null;
  /** How the variant was chosen: the hashed user key, at random (no key), forced or pinned (null before routing). */
  assignment: AssignmentSource | null;
  /** sha256 of the inputs sent upstream; null when the request never got that far. */
  input_hash: string | null;
  /** Only when the model has `log_inputs: true`, with `log_redact` names masked. */
  inputs?: unknown;
  /** Output tensors by name when they hold at most OUTPUT_VALUES_LOGGED values in all; else null. */
  outputs: Record<string, unknown[]> | null;
  decision: string | null;
  score: number | null;
  status: number;
  code: string | null;
  latency_ms: number;
  /**
   * What answered instead of the assigned variant, and why: the variant and version whose answer
   * (live or cached) was given, both null for a default decision, which no model gave.
   */
  fallback: { kind: string; reason: string; variant: string | null; version: string | null } | null;
}

/** How a mirrored copy of one request went; written when the shadow's answer is in. */
export interface ShadowRecord {
  kind: 'shadow';
  time: string;
  request_id: string;
  model: string;
  /** The primary variant the copy is compared with. */
  variant: string;
  shadow: string;
  shadow_version: string;
  /** `not_comparable`: the primary failed or a fallback answered, so there is nothing to compare. */
  outcome: ShadowOutcomeKind;
  agree: boolean | null;
  score_delta: number | null;
  primary_score: number | null;
  shadow_score: number | null;
  shadow_decision: string | null;
  shadow_latency_ms: number | null;
  error?: string;
}

export type ShadowOutcomeKind = 'compared' | 'not_comparable' | 'error' | 'dropped';
export type LogRecord = PredictionRecord | ShadowRecord;

/** Larger outputs (embeddings, images) would dwarf the rest of the record. */
export const OUTPUT_VALUES_LOGGED = 64;

export interface AnsweredRequest {
  ctx: Pick<
    RequestContext,
    'requestId' | 'endpoint' | 'model' | 'tenant' | 'variant' | 'assignment' | 'inference' | 'body'
  >;
  reply: Reply;
  /** What the client was answered. */
  response: HttpResponse;
  model: Pick<ModelConfig, 'log_inputs' | 'log_redact' | 'contract'>;
  latencyMs: number;
  /** Date.now() when the answer was ready; the record may be built later, off the request path. */
  at: number;
}

export function predictionRecord({
  ctx,
  reply,
  response,
  model,
  latencyMs,
  at,
}: AnsweredRequest): PredictionRecord {
  const { status } = response;
  const decided = ctx.endpoint === 'decision' && status === 200 ? (response.body as DecisionBody) : undefined;
  const record: PredictionRecord = {
    kind: 'prediction',
    time: isoTime(at),
    request_id: ctx.requestId,
    decision_id: decided?.decision_id ?? null,
    tenant: ctx.tenant?.name ?? null,
    model: ctx.model,
    endpoint: ctx.endpoint,
    variant: ctx.variant?.name ?? null,
    version: ctx.variant?.version ?? null,
    assignment: ctx.assignment ?? null,
    input_hash: ctx.inference ? inputHash(ctx.inference.inputs) : null,
    outputs: reply.ok && reply.response ? smallOutputs(reply.response) : null,
    decision: decided?.decision ?? null,
    score: decided?.score ?? null,
    status,
    code: reply.ok ? errorCode(response.body) : reply.error.code,
    latency_ms: roundMs(latencyMs),
    fallback:
      reply.ok && reply.fallback
        ? { ...reply.fallback, ...(answeredBy(reply) ?? { variant: null, version: null }) }
        : null,
  };
  if (model.log_inputs && ctx.inference) record.inputs = loggedInputs(ctx, model);
  return record;
}

/** A request refused before its model's pipeline ran (unknown model, gateway draining). */
export function refusalRecord(fields: {
  requestId: string;
  model: string;
  endpoint: EndpointKind;
  error: GatewayError;
  latencyMs: number;
  at: number;
}): PredictionRecord {
  return {
    kind: 'prediction',
    time: isoTime(fields.at),
    request_id: fields.requestId,
    decision_id: null,
    tenant: null,
    model: fields.model,
    endpoint: fields.endpoint,
    variant: null,
    version: null,
    assignment: null,
    input_hash: null,
    outputs: null,
    decision: null,
    score: null,
    status: fields.error.status,
    code: fields.error.code,
    latency_ms: roundMs(fields.latencyMs),
    fallback: null,
  };
}

function loggedInputs(
  ctx: AnsweredRequest['ctx'],
  model: AnsweredRequest['model'],
): Record<string, unknown> | unknown[] {
  const redact = new Set(model.log_redact);
  if (ctx.endpoint === 'decision' && model.contract) {
    return loggedFeatures((ctx.body as { features?: unknown }).features, model.contract, redact);
  }
  return loggedTensors(ctx.inference!.inputs, model.contract, redact);
}

function smallOutputs(response: InferResponse): Record<string, unknown[]> | null {
  let values = 0;
  for (const output of response.outputs) values += output.data.length;
  if (values > OUTPUT_VALUES_LOGGED) return null;
  return Object.fromEntries(response.outputs.map((output) => [output.name, output.data]));
}

/** An answer the respond stage turned into an error (a default decision on a tensor endpoint). */
function errorCode(body: unknown): string | null {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : null;
}

export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

let lastAt = NaN;
let lastIso = '';

/**
 * A record's `time`: the millisecond as ISO 8601. Under load several records a millisecond share
 * it (primary and shadow records alike), and formatting a Date costs ~0.5 µs: the last one is kept.
 */
export function isoTime(at: number): string {
  if (at !== lastAt) {
    lastIso = new Date(at).toISOString();
    lastAt = at;
  }
  return lastIso;
}

/** What the shadow stage reports about one mirrored copy (src/stages/shadow). */
export interface ShadowReport {
  requestId: string;
  model: string;
  variant: string;
  shadow: { name: string; version: string };
  outcome: ShadowOutcomeKind;
  comparison?: { disagree: boolean; delta: number; primaryScore: number; shadowScore: number };
  /** The decision the shadow's score leads to, for models with a contract. */
  shadowDecision?: string;
  latencyMs?: number;
  error?: string;
  at: number;
}

export function shadowRecord(report: ShadowReport): ShadowRecord {
  const { comparison } = report;
  const record: ShadowRecord = {
    kind: 'shadow',
    time: isoTime(report.at),
    request_id: report.requestId,
    model: report.model,
    variant: report.variant,
    shadow: report.shadow.name,
    shadow_version: report.shadow.version,
    outcome: report.outcome,
    agree: comparison ? !comparison.disagree : null,
    score_delta: comparison?.delta ?? null,
    primary_score: comparison?.primaryScore ?? null,
    shadow_score: comparison?.shadowScore ?? null,
    shadow_decision: report.shadowDecision ?? null,
    shadow_latency_ms: report.latencyMs === undefined ? null : roundMs(report.latencyMs),
  };
  if (report.error !== undefined) record.error = report.error;
  return record;
}
