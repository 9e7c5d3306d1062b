import { latestReadyVersion } from './repository/load.js';
import type { RuntimeState } from './state.js';

/**
 * Whether the runtime is ready for inference, for `GET /v2/health/ready` (Open Inference
 * Protocol REST, inference_rest.md: "server ready ... indicates if all the models are ready for
 * inferencing"). Ready means: every version finished loading (or failed), no SIGTERM yet, the
 * repository serves at least one model, and every model it serves has a ready version. A runtime
 * whose only model failed its checks serves nothing, so it is not ready: a Kubernetes
 * readinessProbe on this path then keeps it out of its Service instead of routing to it.
 */
export function runtimeReady(state: RuntimeState): boolean {
  if (!state.loaded || state.draining) return false;
  const models = [...state.repository.models.values()];
  return models.length > 0 && models.every((model) => latestReadyVersion(model) !== undefined);
}
