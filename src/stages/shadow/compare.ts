import type { ContractConfig } from '../../contract/config.js';
import { decide } from '../../contract/features.js';
import type { InferResponse } from '../../shared/oip.js';

export interface Comparison {
  /** |primary score − shadow score| of the first row. */
  delta: number;
  /** The two answers lead to different decisions (or, without a contract, a different top class). */
  disagree: boolean;
  primaryScore: number;
  shadowScore: number;
}

/**
 * Would the shadow have decided differently? With a contract: the decision each score leads to.
 * Without one: the class with the highest value in the first output's first row.
 */
export function compareAnswers(
  primary: InferResponse,
  shadow: InferResponse,
  contract: ContractConfig | undefined,
): Comparison | undefined {
  const a = firstRow(primary, contract?.output);
  const b = firstRow(shadow, contract?.output);
  if (!a || !b || a.length === 0 || a.length !== b.length) return undefined;
  const delta = Math.abs(a[0]! - b[0]!);
  const disagree = contract
    ? decide(contract, a[0]!).decision !== decide(contract, b[0]!).decision
    : argmax(a) !== argmax(b);
  return { delta, disagree, primaryScore: a[0]!, shadowScore: b[0]! };
}

function firstRow(response: InferResponse, name: string | undefined): number[] | undefined {
  const output = (name && response.outputs.find((o) => o.name === name)) || response.outputs[0];
  if (!output) return undefined;
  const rows = output.shape[0] ?? 1;
  const width = output.data.length / Math.max(1, rows);
  const row = output.data.slice(0, width);
  return row.every((v) => typeof v === 'number') ? (row as number[]) : undefined;
}

function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
