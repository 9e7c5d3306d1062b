import { isDeepStrictEqual } from 'node:util';
import type { ModelConfig } from '../config/schema.js';
import { RolloutController, type ControllerDeps } from './controller.js';

/** A model's rollout as a config version will have it; nothing runs until `apply`. */
export interface PreparedRollout {
  readonly controller: RolloutController | undefined;
  apply(): void;
}

/**
 * The rollouts of the process, one per model with a policy. A rollout outlives config versions
 * while its policy (and the model's contract, which its evidence bins) stays the same, so editing
 * weights or anything else keeps its progress; a changed policy starts it again from its first
 * step, and a removed one stops it.
 */
export class RolloutRegistry {
  private readonly running = new Map<string, RolloutController>();

  constructor(private readonly deps: ControllerDeps) {}

  prepare(model: string, config: ModelConfig): PreparedRollout {
    const current = this.running.get(model);
    const policy = config.rollout;
    const kept =
      current &&
      policy &&
      isDeepStrictEqual(current.policy, policy) &&
      isDeepStrictEqual(current.contract, config.contract)
        ? current
        : undefined;
    const controller =
      kept ?? (policy ? new RolloutController(model, policy, config.contract, this.deps) : undefined);
    return {
      controller,
      apply: () => {
        if (current && current !== controller) current.stop();
        if (controller) {
          this.running.set(model, controller);
          controller.start();
        } else {
          this.running.delete(model);
        }
      },
    };
  }

  /** After a reload, models no longer in the config have no rollout. */
  retain(models: Iterable<string>): void {
    const keep = new Set(models);
    for (const [model, controller] of this.running) {
      if (!keep.has(model)) {
        controller.stop();
        this.running.delete(model);
      }
    }
  }

  get(model: string): RolloutController | undefined {
    return this.running.get(model);
  }

  all(): RolloutController[] {
    return [...this.running.values()];
  }

  close(): void {
    for (const controller of this.running.values()) controller.stop();
  }
}
