import assert from 'node:assert/strict';
import type { Agent } from 'undici';
import { FRAUD_FEATURE_COUNT, generateTransactions } from '../../scripts/fraud/synthetic.js';
import { postJson } from './http.js';

/** `count` realistic fraud feature rows (8 raw values each), the same for the same seed. */
export function fraudRows(count: number, seed = 7): number[][] {
  const { features } = generateTransactions(count, seed);
  const rows: number[][] = [];
  for (let i = 0; i < count; i++) {
    rows.push(Array.from(features.subarray(i * FRAUD_FEATURE_COUNT, (i + 1) * FRAUD_FEATURE_COUNT)));
  }
  return rows;
}

export function fraudRequest(rows: number[][], id?: string) {
  return {
    ...(id === undefined ? {} : { id }),
    inputs: [
      { name: 'features', datatype: 'FP32', shape: [rows.length, FRAUD_FEATURE_COUNT], data: rows.flat() },
    ],
  };
}

/** The demo fraud model's max_batch_size: rows per request when asking the runtime directly. */
const RUNTIME_BATCH = 64;

/** Scores of `rows` from a runtime itself (fraud version `version`), in row order. */
export async function fraudScores(
  client: Agent,
  runtimeUrl: string,
  version: string,
  rows: number[][],
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rows.length; i += RUNTIME_BATCH) {
    const response = await postJson(
      client,
      `${runtimeUrl}/v2/models/fraud/versions/${version}/infer`,
      fraudRequest(rows.slice(i, i + RUNTIME_BATCH)),
    );
    assert.equal(response.status, 200, response.text);
    out.push(...((response.body as { outputs: { data: number[] }[] }).outputs[0]!.data as number[]));
  }
  return out;
}
