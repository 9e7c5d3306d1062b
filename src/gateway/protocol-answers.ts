import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError, gatewayError } from '../errors.js';
import { modelMetadata } from '../http/metadata.js';
import type { ModelMetadata, ServerMetadata } from '../shared/oip.js';
import { serverMetadata } from '../shared/server-metadata.js';
import type { ActiveGateway } from './active.js';
import type { BuiltGateway } from './build.js';
import { modelReady, serverReady } from './readiness.js';

/** The name `GET /v2` and gRPC's ServerMetadata give the gateway. */
export const GATEWAY_NAME = 'switchyard';

/**
 * The Open Inference Protocol's calls around inference, on the gateway, whichever protocol asks:
 * the REST routes (src/http/protocol-routes.ts) and the gRPC front door (src/grpc/protocol-calls.ts)
 * both answer from these, so auth, readiness and metadata are decided once. Health and server
 * metadata need no key, as a probe or a client's first call does; a model's metadata and
 * readiness need a key with the `infer` scope, like its inference (inference_rest.md and
 * inference_grpc.md, "Health", "Server Metadata", "Model Metadata"). src/gateway/readiness.ts says
 * what ready is. A refusal comes back as the GatewayError each protocol writes in its own form.
 */
export interface ProtocolAnswers {
  serverReady: () => boolean;
  serverMetadata: () => ServerMetadata;
  /** `{name, ready}` of the model, or of one of its versions. */
  modelReady: (
    headers: IncomingHttpHeaders,
    model: string,
    version?: string,
  ) => Promise<{ name: string; ready: boolean } | GatewayError>;
  modelMetadata: (
    headers: IncomingHttpHeaders,
    model: string,
    version?: string,
  ) => Promise<ModelMetadata | GatewayError>;
}

export function protocolAnswers(active: ActiveGateway, lifecycle: { draining: boolean }): ProtocolAnswers {
  return {
    serverReady: () => serverReady(active.version, lifecycle.draining),
    serverMetadata: () => serverMetadata(GATEWAY_NAME),
    async modelReady(headers, model, version) {
      const gateway = active.version;
      const tenant = await gateway.authenticate(headers, 'infer');
      if (tenant instanceof GatewayError) return tenant;
      const ready = modelReady(gateway, lifecycle.draining, model, version);
      if (ready === undefined) return unknownModel(gateway, model, version);
      return { name: model, ready };
    },
    // Reading a version's metadata needs only `infer`: pinning it for inference needs `pin`.
    async modelMetadata(headers, model, version) {
      const gateway = active.version;
      const tenant = await gateway.authenticate(headers, 'infer');
      if (tenant instanceof GatewayError) return tenant;
      const built = gateway.models.get(model);
      let metadata: ModelMetadata | undefined;
      try {
        metadata = built && (await modelMetadata(model, built.config, gateway.pools, version));
      } catch (error) {
        if (error instanceof GatewayError) return error;
        throw error;
      }
      return metadata ?? unknownModel(gateway, model, version);
    },
  };
}

/** Why a model (or one of its versions) is not served: the model, or only the version, is unknown. */
export function unknownModel(gateway: BuiltGateway, model: string, version?: string): GatewayError {
  if (!gateway.models.has(model)) return gatewayError('MODEL_UNKNOWN', `"${model}"`);
  return gatewayError('MODEL_UNKNOWN_VERSION', `"${model}" has no variant serving version "${version}"`);
}
