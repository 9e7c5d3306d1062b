import type { ContractConfig } from '../contract/config.js';
import { DRIFT_BINS } from '../delivery/evidence.js';
import { psi } from '../delivery/statistics.js';
import type { Finished } from '../pipeline/stage.js';
import type { TensorData } from '../shared/oip.js';
import type { VariantConfig } from '../stages/route/config.js';
import { binBetween } from './bins.js';
import type { DriftConfig } from './config.js';
import type { DriftMetrics } from './metrics.js';
import type { DriftReference, ReferenceHistogram } from './reference.js';

/** The feature label of the score's PSI. */
export const SCORE = 'score';

/** The bins of one histogram, and its reference histogram when the file has one. */
interface HistogramPlan {
  /** 'score' or the contract feature's name: the `feature` label. */
  readonly name: string;
  readonly edges: readonly number[];
  readonly reference: ReferenceHistogram | undefined;
}

/** A contract feature that is tracked: where it is in the input row, and its bins. */
interface FeaturePlan extends HistogramPlan {
  readonly column: number;
}

/**
 * What one variant showed in the current window. Its histograms — 0 the score, then the tracked
 * features in order — live in flat typed arrays, so the per-row loop reads no objects: histogram
 * h has bins[h] bins with edges at edges[edgeStart[h]…] and counts at counts[countStart[h]…].
 */
interface VariantWindow {
  readonly model: string;
  readonly version: string;
  readonly names: readonly string[];
  readonly edges: Float64Array;
  readonly edgeStart: Int32Array;
  readonly bins: Int32Array;
  readonly countStart: Int32Array;
  readonly counts: Int32Array;
  /** Per histogram: from the file, or learned from the first window of min_samples. */
  readonly references: (Float64Array | undefined)[];
}

/**
 * Drift of one model's variants, measured whether or not a rollout runs: every answered row's
 * score and contract features are counted into its variant's histograms (a few comparisons per
 * value over typed arrays, no allocation), and every `window_s` each histogram is compared by PSI
 * with its reference and exported as switchyard_drift_psi{against="reference"}.
 *
 * The reference is the model's reference file when it has one (the features' histograms, and
 * the score's for the variant's runtime model and version), else the variant's first window with
 * min_samples rows: drift then means "changed since this gateway started serving the variant",
 * which is what a restart-free process can know; the file says "changed since training", which is
 * what an alert should watch (README, "Drift").
 */
export class DriftTracker {
  private readonly features: readonly FeaturePlan[];
  private readonly columns: Int32Array;
  private readonly width: number;
  private windows = new Map<string, VariantWindow>();
  private settings: DriftConfig | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly model: string,
    readonly contract: ContractConfig,
    readonly reference: DriftReference | undefined,
    private readonly metrics: DriftMetrics,
  ) {
    // A feature is tracked when its bins are known: from the file, or equal-width over its
    // contract range (as the rollout's evidence bins it). Without either it is not binned.
    this.features = contract.features.flatMap((feature, column): FeaturePlan[] => {
      const fromFile = reference?.features[feature.name];
      if (fromFile) return [{ name: feature.name, column, edges: fromFile.edges, reference: fromFile }];
      if (feature.min === undefined || feature.max === undefined || !(feature.max > feature.min)) return [];
      return [
        { name: feature.name, column, edges: equalWidth(feature.min, feature.max), reference: undefined },
      ];
    });
    this.columns = Int32Array.from(this.features, (plan) => plan.column);
    this.width = contract.features.length;
  }

  /**
   * Takes a config version's settings and variants. A variant whose runtime model and version
   * stay the same keeps its window and reference; one that now serves another version starts a
   * new window, keeping the features' learned references (the input does not depend on the model
   * version) but not the score's.
   */
  configure(
    settings: DriftConfig,
    variants: readonly Pick<VariantConfig, 'name' | 'model' | 'version'>[],
  ): void {
    const windowChanged = this.settings !== undefined && this.settings.window_s !== settings.window_s;
    this.settings = settings;
    const next = new Map<string, VariantWindow>();
    for (const variant of variants) {
      const current = this.windows.get(variant.name);
      const same = current && current.model === variant.model && current.version === variant.version;
      next.set(variant.name, same ? current : this.newWindow(variant, current));
    }
    for (const [name, window] of this.windows) if (next.get(name) !== window) this.clearSeries(name, window);
    this.windows = next;
    if (windowChanged && this.timer) {
      this.stopTimer();
      this.startTimer();
    }
  }

  start(): void {
    if (!this.timer) this.startTimer();
  }

  /** Stops measuring; its series leave /metrics rather than keep a value nothing updates. */
  stop(): void {
    this.stopTimer();
    for (const [name, window] of this.windows) this.clearSeries(name, window);
    this.windows = new Map();
  }

  /**
   * The after-phase's record of an answered request. Fallback answers are left out (their score
   * is not the assigned variant's), and so are refusals. Must not throw.
   */
  record({ ctx, reply }: Finished): void {
    if (!reply.ok || reply.fallback !== undefined || reply.response === undefined) return;
    const window = this.windows.get(reply.variant);
    if (window === undefined) return;
    const scores = tensorData(reply.response.outputs, this.contract.output);
    if (scores === undefined) return;
    const inputs =
      ctx.inference === undefined ? undefined : tensorData(ctx.inference.inputs, this.contract.input);
    const { columns, width } = this;
    for (let row = 0; row < scores.length; row++) {
      const score = scores[row];
      // JSON carries no NaN, but a number that is not itself has no bin: the check costs nothing.
      if (typeof score !== 'number' || score !== score) continue;
      count(window, 0, score);
      if (inputs === undefined) continue;
      const start = row * width;
      for (let f = 0; f < columns.length; f++) {
        const value = inputs[start + columns[f]!];
        if (typeof value === 'number' && value === value) count(window, f + 1, value);
      }
    }
  }

  /**
   * Ends the window: each histogram with at least min_samples values is compared with its
   * reference (or, having none yet, becomes it), and a thinner one exports nothing — PSI of a
   * few dozen values is mostly sampling noise (README, "Drift"). Then a new window starts.
   */
  closeWindow(): void {
    const minSamples = this.settings?.min_samples ?? Number.POSITIVE_INFINITY;
    for (const [variant, window] of this.windows) {
      window.names.forEach((name, h) => {
        const counts = window.counts.subarray(window.countStart[h]!, window.countStart[h]! + window.bins[h]!);
        const values = total(counts);
        if (h === 0) this.metrics.setWindowRows(this.model, variant, values);
        const reference = window.references[h];
        if (reference === undefined) {
          if (values >= minSamples) window.references[h] = Float64Array.from(counts);
        } else if (values >= minSamples) {
          this.metrics.setPsi(this.model, variant, name, 'reference', psi(counts, reference));
        } else {
          this.metrics.clearPsi(this.model, variant, name, 'reference');
        }
      });
      window.counts.fill(0);
    }
  }

  private newWindow(
    variant: Pick<VariantConfig, 'model' | 'version'>,
    previous: VariantWindow | undefined,
  ): VariantWindow {
    const scoreFile =
      this.reference?.model === variant.model ? this.reference.scores[variant.version] : undefined;
    const plans: HistogramPlan[] = [
      { name: SCORE, edges: scoreFile?.edges ?? equalWidth(0, 1), reference: scoreFile },
      ...this.features,
    ];
    const edgeStart = new Int32Array(plans.length);
    const countStart = new Int32Array(plans.length);
    const bins = Int32Array.from(plans, (plan) => plan.edges.length - 1);
    for (let h = 1; h < plans.length; h++) {
      edgeStart[h] = edgeStart[h - 1]! + bins[h - 1]! + 1;
      countStart[h] = countStart[h - 1]! + bins[h - 1]!;
    }
    const references = plans.map((plan, h) =>
      plan.reference
        ? Float64Array.from(plan.reference.counts)
        : // A feature's learned reference outlives a new version of the variant; the score's does not.
          h > 0
          ? previous?.references[h]
          : undefined,
    );
    return {
      model: variant.model,
      version: variant.version,
      names: plans.map((plan) => plan.name),
      edges: Float64Array.from(plans.flatMap((plan) => plan.edges)),
      edgeStart,
      bins,
      countStart,
      counts: new Int32Array(bins.reduce((sum, n) => sum + n, 0)),
      references,
    };
  }

  private clearSeries(variant: string, window: VariantWindow): void {
    for (const name of window.names) this.metrics.clearPsi(this.model, variant, name, 'reference');
    this.metrics.clearWindowRows(this.model, variant);
  }

  private startTimer(): void {
    this.timer = setInterval(() => this.closeWindow(), this.settings!.window_s * 1000);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Counts `value` into histogram `h` of `window` (see VariantWindow). */
function count(window: VariantWindow, h: number, value: number): void {
  const bin = binBetween(window.edges, window.edgeStart[h]!, window.bins[h]!, value);
  window.counts[window.countStart[h]! + bin]!++;
}

/** DRIFT_BINS equal-width bins over [min, max], as the rollout's evidence bins a feature. */
function equalWidth(min: number, max: number): number[] {
  return Array.from({ length: DRIFT_BINS + 1 }, (_, i) =>
    i === DRIFT_BINS ? max : min + ((max - min) * i) / DRIFT_BINS,
  );
}

function total(counts: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i]!;
  return sum;
}

/**
 * The flat values of the named tensor. Nested data (allowed on /v2 infer) is flattened here, off
 * the common path: the decision and predict endpoints, and the runtime's answers, are flat.
 */
function tensorData(
  tensors: readonly { name: string; data: TensorData }[],
  name: string,
): readonly unknown[] | undefined {
  for (let i = 0; i < tensors.length; i++) {
    const tensor = tensors[i]!;
    if (tensor.name !== name) continue;
    const data: readonly unknown[] = tensor.data;
    return Array.isArray(data[0]) ? flatten(data, []) : data;
  }
  return undefined;
}

function flatten(values: readonly unknown[], into: unknown[]): unknown[] {
  for (const value of values) {
    if (Array.isArray(value)) flatten(value, into);
    else into.push(value);
  }
  return into;
}
