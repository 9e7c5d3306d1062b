/**
 * A step's evidence as flat counters, so replicas can add theirs into one Redis hash with HINCRBY
 * and the leader can read the sum back as one snapshot. Latency samples travel separately (lists).
 */
import { DRIFT_BINS, type EvidenceSnapshot, type SideSnapshot } from './evidence.js';
import type { EvidenceShape } from './store.js';

export interface EvidenceFields {
  /** Whole counts, added with HINCRBY; zeros left out. */
  counts: [field: string, value: number][];
  /** Sums of reals (the mirrored copies' |score delta| moments), added with HINCRBYFLOAT. */
  sums: [field: string, value: number][];
}

/** The fields of a snapshot taken by one replica since its last flush. */
export function evidenceFields(evidence: EvidenceSnapshot): EvidenceFields {
  const counts: [string, number][] = [];
  const count = (field: string, value: number) => {
    if (value !== 0) counts.push([field, value]);
  };
  const side = (prefix: string, s: SideSnapshot) => {
    count(`${prefix}.requests`, s.requests);
    count(`${prefix}.errors`, s.errors.events);
    count(`${prefix}.fallbacks`, s.fallbacks.events);
    count(`${prefix}.scored`, s.scored);
    for (const [decision, { events }] of Object.entries(s.decisions))
      count(`${prefix}.d.${decision}`, events);
    s.drift.forEach((histogram, i) => histogram.forEach((n, bin) => count(`${prefix}.h.${i}.${bin}`, n)));
  };
  side('b', evidence.baseline);
  side('c', evidence.candidate);
  const { comparison: m } = evidence;
  count('m.compared', m.compared);
  count('m.agreed', m.agreed);
  count('m.errors', m.errors);
  count('m.sent', m.sent);
  count('m.n', m.delta.n);
  m.shadowScores?.forEach((n, bin) => count(`m.h.${bin}`, n));
  const sums: [string, number][] =
    m.delta.n > 0
      ? [
          ['m.sum', m.delta.sum],
          ['m.ss', m.delta.sumOfSquares],
        ]
      : [];
  return { counts, sums };
}

/** The merged snapshot from the hash every replica added into, and the sides' latency samples. */
export function evidenceFromFields(
  hash: Record<string, string>,
  latency: { baseline: number[]; candidate: number[] },
  shape: EvidenceShape,
): EvidenceSnapshot {
  const read = (field: string) => Number(hash[field] ?? 0);
  const histogram = (prefix: string) => {
    const bins = new Int32Array(DRIFT_BINS);
    for (let bin = 0; bin < DRIFT_BINS; bin++) bins[bin] = read(`${prefix}.${bin}`);
    return bins;
  };
  const side = (prefix: string, samples: number[]): SideSnapshot => {
    const requests = read(`${prefix}.requests`);
    const scored = read(`${prefix}.scored`);
    const decisions: SideSnapshot['decisions'] = {};
    const decisionPrefix = `${prefix}.d.`;
    for (const field of Object.keys(hash)) {
      if (field.startsWith(decisionPrefix))
        decisions[field.slice(decisionPrefix.length)] = { events: read(field), total: scored };
    }
    return {
      requests,
      errors: { events: read(`${prefix}.errors`), total: requests },
      fallbacks: { events: read(`${prefix}.fallbacks`), total: requests },
      latencyMs: Float64Array.from(samples),
      decisions,
      drift: shape.driftNames.map((_, i) => histogram(`${prefix}.h.${i}`)),
      scored,
    };
  };
  return {
    baseline: side('b', latency.baseline),
    candidate: side('c', latency.candidate),
    comparison: {
      compared: read('m.compared'),
      agreed: read('m.agreed'),
      errors: read('m.errors'),
      sent: read('m.sent'),
      delta: { n: read('m.n'), sum: read('m.sum'), sumOfSquares: read('m.ss') },
      shadowScores: shape.binsShadowScores ? histogram('m.h') : undefined,
    },
    driftNames: shape.driftNames,
  };
}
