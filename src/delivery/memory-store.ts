import { LATENCY_SAMPLES } from './evidence.js';
import { evidenceFields, evidenceFromFields } from './evidence-fields.js';
import {
  leaseMsFor,
  policyHash,
  type RolloutProgress,
  type RolloutStore,
  type RolloutStoreFactory,
  type StoredProgress,
} from './store.js';

interface StepEvidence {
  fields: Map<string, number>;
  latency: { baseline: number[]; candidate: number[] };
}

interface Shared {
  lease: { holder: string; until: number } | undefined;
  stored: StoredProgress | undefined;
  evidence: Map<number, StepEvidence>;
}

/**
 * The store's contract in one process: what Redis does for replicas, done for several controllers
 * sharing this object (tests of the shared logic without a server). Keyed like Redis: by model and
 * policy hash. Without a store at all a controller runs alone, in memory, as before.
 */
export class MemoryRolloutBackend {
  private readonly rollouts = new Map<string, Shared>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The stores of one replica (`holder`). */
  stores(holder: string): RolloutStoreFactory {
    return (model, policy, contract, shape) => {
      const key = `${model}:${policyHash(policy, contract)}`;
      let shared = this.rollouts.get(key);
      if (!shared)
        this.rollouts.set(key, (shared = { lease: undefined, stored: undefined, evidence: new Map() }));
      return new MemoryRolloutStore(shared, holder, leaseMsFor(policy), shape, this.now);
    };
  }
}

class MemoryRolloutStore implements RolloutStore {
  constructor(
    private readonly shared: Shared,
    private readonly holder: string,
    readonly leaseMs: number,
    private readonly shape: Parameters<RolloutStoreFactory>[3],
    private readonly now: () => number,
  ) {}

  private holds(): boolean {
    const { lease } = this.shared;
    return lease !== undefined && lease.holder === this.holder && lease.until > this.now();
  }

  async exchange(delta: Parameters<RolloutStore['exchange']>[0], leader: boolean) {
    if (delta) {
      let step = this.shared.evidence.get(delta.stepIndex);
      if (!step) {
        step = { fields: new Map(), latency: { baseline: [], candidate: [] } };
        this.shared.evidence.set(delta.stepIndex, step);
      }
      const { counts, sums } = evidenceFields(delta.evidence);
      for (const [field, value] of [...counts, ...sums])
        step.fields.set(field, (step.fields.get(field) ?? 0) + value);
      for (const side of ['baseline', 'candidate'] as const) {
        step.latency[side] = [...delta.evidence[side].latencyMs, ...step.latency[side]].slice(
          0,
          LATENCY_SAMPLES,
        );
      }
    }
    const { lease } = this.shared;
    const free = lease === undefined || lease.until <= this.now();
    const taken = leader ? this.holds() : free;
    if (taken) this.shared.lease = { holder: this.holder, until: this.now() + this.leaseMs };
    return { leader: taken, stored: structuredClone(this.shared.stored) };
  }

  async evidence(stepIndex: number) {
    const step = this.shared.evidence.get(stepIndex);
    const hash = Object.fromEntries([...(step?.fields ?? [])].map(([k, v]) => [k, String(v)]));
    return evidenceFromFields(hash, step?.latency ?? { baseline: [], candidate: [] }, this.shape);
  }

  async read() {
    return structuredClone(this.shared.stored);
  }

  async write(progress: RolloutProgress, version: number, asLeader: boolean) {
    if (asLeader && !this.holds()) return false;
    if ((this.shared.stored?.version ?? 0) !== version) return false;
    this.shared.stored = { version: version + 1, progress: structuredClone(progress) };
    return true;
  }

  async release() {
    if (this.shared.lease?.holder === this.holder) this.shared.lease = undefined;
  }
}
