import { FRAUD_FEATURE_COUNT, generateTransactions } from '../../scripts/fraud/synthetic.js';

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
