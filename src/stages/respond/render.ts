import { randomUUID } from 'node:crypto';
import type { ContractConfig } from '../../contract/config.js';
import { decide } from '../../contract/features.js';
import type { InferResponse, ResponseOutput } from '../../shared/oip.js';
import { answeredBy, type Answer, type RequestContext } from '../../pipeline/stage.js';

export interface DecisionBody {
  decision: string;
  score: number | null;
  threshold: number | null;
  /** The model version and variant that answered; null for a default decision (no model gave it). */
  model_version: string | null;
  variant: string | null;
  request_id: string;
  decision_id: string;
  fallback: { kind: string; reason: string } | null;
}

/** POST /v1/decisions: the score from the contract's output tensor, decided by its thresholds. */
export function renderDecision(
  answer: Answer,
  contract: ContractConfig,
  ctx: Pick<RequestContext, 'requestId'>,
): DecisionBody {
  const scored = answer.response ? firstValue(answer.response, contract.output) : answer.decision?.score;
  const decided = scored === undefined ? undefined : decide(contract, scored);
  const answered = answeredBy(answer);
  return {
    decision: answer.decision?.decision ?? decided?.decision ?? contract.decisions.below,
    score: scored ?? null,
    threshold: answer.decision ? null : (decided?.threshold ?? null),
    model_version: answered?.version ?? null,
    variant: answered?.variant ?? null,
    request_id: ctx.requestId,
    decision_id: randomUUID(),
    fallback: answer.fallback ? { kind: answer.fallback.kind, reason: answer.fallback.reason } : null,
  };
}

/** POST /v1/models/{model}:predict: one prediction per row; a one-value row is a bare number. */
export function renderPredictions(
  response: InferResponse,
  outputName: string | undefined,
): { predictions: unknown[] } {
  const output = pickOutput(response, outputName);
  if (!output) return { predictions: [] };
  const rows = output.shape[0] ?? 1;
  const perRow = output.data.length / rows;
  const predictions: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    const values = output.data.slice(i * perRow, (i + 1) * perRow);
    predictions.push(perRow === 1 ? values[0] : values);
  }
  return { predictions };
}

/** POST /v2/models/{model}/infer: the runtime's answer under the gateway's model name. */
export function renderInfer(
  response: InferResponse,
  modelName: string,
  answer: Pick<Answer, 'version'>,
  clientId: string | undefined,
): InferResponse {
  const rendered: InferResponse = {
    model_name: modelName,
    model_version: answer.version,
    outputs: response.outputs,
  };
  if (clientId !== undefined) rendered.id = clientId;
  return rendered;
}

function pickOutput(response: InferResponse, name: string | undefined): ResponseOutput | undefined {
  return (name && response.outputs.find((o) => o.name === name)) || response.outputs[0];
}

function firstValue(response: InferResponse, name: string): number | undefined {
  const value = pickOutput(response, name)?.data[0];
  return typeof value === 'number' ? value : undefined;
}
