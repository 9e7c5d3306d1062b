import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import type { ContractConfig } from '../contract/config.js';
import { pointer, type ConfigProblem, type PathSegment } from '../config/problem.js';
import { schemaProblems } from '../config/schema-check.js';
import type { GatewayConfig } from '../config/schema.js';
import { deepFreeze } from '../config/snapshot.js';
import { DRIFT_DEFAULTS } from './config.js';

/** Files are a few kilobytes; a path pointing at a model or a log by mistake is refused unread. */
export const MAX_REFERENCE_BYTES = 1024 * 1024;
/** More bins need more rows per window for the same noise (see README): 100 is already generous. */
export const MAX_REFERENCE_BINS = 100;

const HistogramSchema = Type.Object(
  {
    edges: Type.Array(Type.Number(), {
      minItems: 2,
      maxItems: MAX_REFERENCE_BINS + 1,
      description: 'ascending bin edges e0 < e1 < … < ek: k bins [e_i, e_i+1), the last closed',
    }),
    counts: Type.Array(Type.Integer({ minimum: 0 }), {
      minItems: 1,
      maxItems: MAX_REFERENCE_BINS,
      description: 'how many reference values fell in each bin',
    }),
  },
  { additionalProperties: false },
);

/**
 * A reference histogram file, shipped beside the model (scripts/train-fraud-models.ts writes
 * config/models/fraud/drift-reference.json): the training data's features, and each version's
 * scores on them, over bins the file sets.
 */
export const DriftReferenceSchema = Type.Object(
  {
    /** Free text: where the histograms come from. */
    source: Type.Optional(Type.String()),
    /** The runtime model (a variant's `model`) whose versions `scores` are for. */
    model: Type.String({ minLength: 1 }),
    /** By contract feature name. */
    features: Type.Record(Type.String(), HistogramSchema),
    /** By runtime version (a variant's `version`). */
    scores: Type.Record(Type.String(), HistogramSchema),
  },
  { additionalProperties: false },
);

export type ReferenceHistogram = Static<typeof HistogramSchema>;
export type DriftReference = Static<typeof DriftReferenceSchema>;

/**
 * The text of a reference file as a reference for `contract`, or every problem found, each at its
 * JSON pointer inside the file.
 */
export function parseDriftReference(
  text: string,
  contract: ContractConfig,
): { reference: DriftReference; problems: [] } | { reference?: undefined; problems: ConfigProblem[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [{ path: '', message: `not JSON: ${(error as Error).message}` }] };
  }
  const shape = schemaProblems(DriftReferenceSchema, value);
  if (shape.length > 0) return { problems: shape };
  const reference = value as DriftReference;
  const problems: ConfigProblem[] = [];
  const report = (path: PathSegment[], message: string) => problems.push({ path: pointer(path), message });
  const known = new Set(contract.features.map((feature) => feature.name));
  for (const [name, histogram] of Object.entries(reference.features)) {
    if (!known.has(name)) report(['features', name], `"${name}" is not a feature of the model's contract`);
    checkHistogram(['features', name], histogram, report);
  }
  for (const [version, histogram] of Object.entries(reference.scores)) {
    checkHistogram(['scores', version], histogram, report);
  }
  return problems.length > 0 ? { problems } : { reference: deepFreeze(reference), problems: [] };
}

function checkHistogram(
  at: PathSegment[],
  { edges, counts }: ReferenceHistogram,
  report: (path: PathSegment[], message: string) => void,
): void {
  // The schema refused non-finite edges already (JSON has no Infinity, but 1e999 reads as one).
  edges.forEach((edge, i) => {
    if (i > 0 && !(edge > edges[i - 1]!))
      report([...at, 'edges', i], `edges must ascend: ${edge} is not above ${edges[i - 1]}`);
  });
  if (counts.length !== edges.length - 1) {
    report(
      [...at, 'counts'],
      `${counts.length} counts for ${edges.length} edges: needs ${edges.length - 1}, one per bin`,
    );
  }
  if (counts.every((count) => count === 0))
    report([...at, 'counts'], 'every count is 0: nothing to compare with');
}

/**
 * Reads the reference file of every model that names one (and measures drift), relative to the
 * config file's directory. A problem is reported at the model's `drift/reference`, naming the
 * file and the place in it, so a reload with a broken file is refused like any invalid config.
 */
export async function readDriftReferences(
  config: GatewayConfig,
  configDir: string,
): Promise<{ references: Map<string, DriftReference>; problems: ConfigProblem[] }> {
  const references = new Map<string, DriftReference>();
  const problems: ConfigProblem[] = [];
  for (const [model, settings] of Object.entries(config.models)) {
    const drift = settings.drift ?? DRIFT_DEFAULTS;
    if (!drift.enabled || drift.reference === undefined || !settings.contract) continue;
    const at = pointer(['models', model, 'drift', 'reference']);
    const read = await readReferenceText(resolve(configDir, drift.reference));
    if (typeof read !== 'string') {
      problems.push({ path: at, message: `${drift.reference}: ${read.problem}` });
      continue;
    }
    const parsed = parseDriftReference(read, settings.contract);
    if (parsed.reference) references.set(model, parsed.reference);
    for (const problem of parsed.problems)
      problems.push({ path: at, message: `${drift.reference}: ${problem.path || '/'}: ${problem.message}` });
  }
  return { references, problems };
}

async function readReferenceText(path: string): Promise<string | { problem: string }> {
  try {
    const { size, isFile } = await stat(path).then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) return { problem: 'not a file' };
    if (size > MAX_REFERENCE_BYTES)
      return { problem: `${size} bytes, more than a reference file's ${MAX_REFERENCE_BYTES}` };
    return await readFile(path, 'utf8');
  } catch (error) {
    return { problem: `cannot read it: ${(error as Error).message}` };
  }
}
