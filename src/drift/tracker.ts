import type { ContractConfig } from '../contract/config.js';
import { FixedBins } from '../delivery/bins.js';
import { DRIFT_BINS } from '../delivery/evidence.js';
import { psi } from '../delivery/statistics.js';
import type { Finished } from '../pipeline/stage.js';
import type { TensorData } from '../shared/oip.js';
import type { VariantConfig } from '../stages/route/config.js';
import { EdgeBins, type Bins } from './bins.js';
import type { DriftConfig } from './config.js';
import type { DriftMetrics } from './metrics.js';
import type { DriftReference, ReferenceHistogram } from './reference.js';

/** The feature label of the score's PSI. */
export const SCORE = 'score';

/** One histogram of a variant: its bins, this window's counts, and what they are compared with. */
interface Histogram {
  /** 'score' or the contract feature's name: the `feature` label. */
  readonly name: string;
  readonly bins: Bins;
  readonly counts: Int32Array;
  /** From the reference file, or learned from the first window of min_samples rows; undefined until then. */
  reference: Float64Array | undefined;
  readonly fromFile: boolean;
}

/** What one variant showed in the current window. */
interface VariantWindow {
  readonly model: string;
  readonly version: string;
  readonly score: Histogram;
  /** In the order of the tracker's feature columns. */
  readonly features: Histogram[];
  /** The score, then the features: every series the variant exports. */
  readonly all: Histogram[];
}

/** A contract feature that is tracked: where it is in the input row, and its bins. */
interface FeaturePlan {
  readonly name: string;
  readonly column: number;
  readonly bins: Bins;
  readonly reference: ReferenceHistogram | undefined;
}

/**
 * Drift of one model's variants, measured whether or not a rollout runs: every answered row's
 * score and contract features are counted into its variant's histograms (a bin search per value,
 * no allocation), and every `window_s` each histogram is compared by PSI with its reference and
 * exported as switchyard_drift_psi{against="reference"}.
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
      if (fromFile)
        return [{ name: feature.name, column, bins: new EdgeBins(fromFile.edges), reference: fromFile }];
      if (feature.min === undefined || feature.max === undefined || !(feature.max > feature.min)) return [];
      return [
        {
          name: feature.name,
          column,
          bins: new FixedBins(feature.min, feature.max, DRIFT_BINS),
          reference: undefined,
        },
      ];
    });
    this.columns = Int32Array.from(this.features, (plan) => plan.column);
    this.width = contract.features.length;
  }

  /** The names of the histograms of each variant: 'score', then the tracked features. */
  get names(): string[] {
    return [SCORE, ...this.features.map((plan) => plan.name)];
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
    const { score, features } = window;
    const { columns, width } = this;
    for (let row = 0; row < scores.length; row++) {
      const value = scores[row];
      if (typeof value !== 'number') continue;
      const bin = score.bins.index(value);
      if (bin >= 0) score.counts[bin]!++;
      if (inputs === undefined) continue;
      const start = row * width;
      for (let f = 0; f < columns.length; f++) {
        const feature = inputs[start + columns[f]!];
        if (typeof feature !== 'number') continue;
        const histogram = features[f]!;
        const featureBin = histogram.bins.index(feature);
        if (featureBin >= 0) histogram.counts[featureBin]!++;
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
      this.metrics.setWindowRows(this.model, variant, total(window.score.counts));
      for (const histogram of window.all) {
        const values = total(histogram.counts);
        if (histogram.reference === undefined) {
          if (values >= minSamples) histogram.reference = Float64Array.from(histogram.counts);
        } else if (values >= minSamples) {
          this.metrics.setPsi(
            this.model,
            variant,
            histogram.name,
            'reference',
            psi(histogram.counts, histogram.reference),
          );
        } else {
          this.metrics.clearPsi(this.model, variant, histogram.name, 'reference');
        }
        histogram.counts.fill(0);
      }
    }
  }

  private newWindow(
    variant: Pick<VariantConfig, 'model' | 'version'>,
    previous: VariantWindow | undefined,
  ): VariantWindow {
    const scoreFile =
      this.reference?.model === variant.model ? this.reference.scores[variant.version] : undefined;
    const score = histogram(
      SCORE,
      scoreFile ? new EdgeBins(scoreFile.edges) : new FixedBins(0, 1, DRIFT_BINS),
      scoreFile,
    );
    const features = this.features.map((plan, f) => {
      const made = histogram(plan.name, plan.bins, plan.reference);
      const learned = previous?.features[f]?.reference;
      if (!made.fromFile && learned) made.reference = learned;
      return made;
    });
    return { model: variant.model, version: variant.version, score, features, all: [score, ...features] };
  }

  private clearSeries(variant: string, window: VariantWindow): void {
    for (const histogram of window.all)
      this.metrics.clearPsi(this.model, variant, histogram.name, 'reference');
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

function histogram(name: string, bins: Bins, file: ReferenceHistogram | undefined): Histogram {
  return {
    name,
    bins,
    counts: new Int32Array(bins.count),
    reference: file ? Float64Array.from(file.counts) : undefined,
    fromFile: file !== undefined,
  };
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
