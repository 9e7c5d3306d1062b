import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRAUD_FEATURES } from '../../scripts/fraud/synthetic.js';
import { workDir } from './workdir.js';

/** The README's demo transaction (raw feature values in the fraud model's column order). */
export const FRAUD_ROW = [81.25, 400, 0.2, 0.1, 14, 3, 0, 5];
/** A second, different transaction: an input the result cache has never seen. */
export const OTHER_FRAUD_ROW = [1999.5, 12, 0.85, 0.6, 3, 41, 1, 2400];

/** textdir's input: one image, 3 x 48 x 192 floats. */
export const TEXTDIR_SHAPE = [1, 3, 48, 192];

/** An OIP v2 request for one fraud row. */
export function fraudInferBody(row: readonly number[] = FRAUD_ROW): string {
  return JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, row.length], data: row }],
  });
}

/** A decision request (`POST /v1/decisions/fraud`) for one fraud row; names from the training script. */
export function fraudDecisionBody(row: readonly number[] = FRAUD_ROW): string {
  return JSON.stringify({
    features: Object.fromEntries(FRAUD_FEATURES.map(({ name }, i) => [name, row[i]])),
  });
}

/**
 * A deterministic pseudo-image for textdir: normalised pixels (-1..1, six decimals, as a client
 * would send after preprocessing), 3 x 48 x 192 of them.
 */
export function textdirPixels(): number[] {
  const count = TEXTDIR_SHAPE.reduce((a, b) => a * b, 1);
  const data = new Array<number>(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    data[i] = Math.round(((state / 2147483648) * 2 - 1) * 1e6) / 1e6;
  }
  return data;
}

/** textdir's request for the pseudo-image above, so the body has a realistic size (~300 kB of JSON). */
export function textdirInferBody(): string {
  return JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: TEXTDIR_SHAPE, data: textdirPixels() }],
  });
}

/** Writes a body once into the work dir (wrk reads it from a file) and returns the path. */
export function bodyFile(name: string, body: string): string {
  const path = join(workDir('bodies'), `${name}.json`);
  writeFileSync(path, body);
  return path;
}
