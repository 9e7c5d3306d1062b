import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { INFERENCE_SERVICE_NAME, type HealthCheckResponse } from '../../../src/shared/grpc/inference.js';
import { notFound } from '../errors.js';
import type { RuntimeState } from '../state.js';
import { grpcError } from './status.js';

/**
 * grpc.health.v1.Health's Check (src/shared/grpc/health.proto): the server as a whole (service
 * "") and the inference service are SERVING exactly when GET /v2/health/ready answers 200 —
 * every model loaded, not draining — so Kubernetes' `grpc:` readiness probe sees what the HTTP
 * probe sees. Any other service is NOT_FOUND, as the health checking protocol says.
 */
export function healthImplementation(
  state: Pick<RuntimeState, 'loaded' | 'draining'>,
): UntypedServiceImplementation {
  const Check = (
    call: ServerUnaryCall<{ service: string }, HealthCheckResponse>,
    done: sendUnaryData<HealthCheckResponse>,
  ): void => {
    const { service } = call.request;
    if (service !== '' && service !== INFERENCE_SERVICE_NAME) {
      done(grpcError(notFound(`unknown service "${service}"`)));
      return;
    }
    done(null, { status: state.loaded && !state.draining ? 'SERVING' : 'NOT_SERVING' });
  };
  return { Check };
}
