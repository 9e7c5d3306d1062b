import {
  Client,
  credentials,
  Metadata,
  status as Status,
  type ClientUnaryCall,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import {
  healthService,
  inferenceService,
  type HealthCheckResponse,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
  type ModelRef,
} from '../shared/grpc/inference.js';

/** How a unary call ended: its response, or the status it failed with; and the trailers. */
export interface UnaryResult<Response> {
  response?: Response;
  error?: ServiceError;
  /** The trailing metadata (the runtime's server-timing is there). */
  trailers: Metadata | undefined;
}

export interface GrpcChannelOptions {
  /** Caps grpc-js's reconnect backoff, so a runtime back on its address is called again soon. */
  maxReconnectBackoffMs: number;
}

type Method<Request, Response> = MethodDefinition<Request, Response>;

/**
 * One grpc-js channel to one endpoint, kept open for the endpoint's life in the pool (inference
 * calls and health checks share it: HTTP/2 multiplexes them, so a check does not queue behind
 * inference the way it would on an HTTP/1.1 connection, and a passing check means the channel
 * the calls use is connected). Calls fail fast while it is not connected (no wait-for-ready):
 * a runtime that is down is reported at once, as a refused HTTP connection is.
 */
export class GrpcChannel {
  readonly #client: Client;
  readonly #infer: Method<ModelInferRequest, ModelInferResponse>;
  readonly #metadata: Method<ModelRef, ModelMetadataResponse>;
  readonly #check: Method<{ service: string }, HealthCheckResponse>;
  #closed = false;
  /** Calls in flight, for destroy(). */
  readonly #calls = new Set<ClientUnaryCall>();

  /** `address` is host:port (an IPv6 host in brackets). */
  constructor(address: string, options: GrpcChannelOptions) {
    this.#client = new Client(address, credentials.createInsecure(), {
      // Answers are a model's outputs; the default 4 MiB cap on them would refuse large ones.
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, options.maxReconnectBackoffMs),
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs,
      // The pool keeps the channel for the endpoint's life; grpc-js's idle timeout would drop
      // the connection of a quiet endpoint and make its next call pay for a new one.
      'grpc.client_idle_timeout_ms': 2_147_483_647,
      // Retries are the gateway's (retry.ts: another endpoint, a budget, the deadline's room);
      // grpc-js's own transparent retries would retry behind its back, and buffering each
      // message for them costs CPU on every call.
      'grpc.enable_retries': 0,
    });
    const inference = inferenceService();
    this.#infer = inference.ModelInfer as Method<ModelInferRequest, ModelInferResponse>;
    this.#metadata = inference.ModelMetadata as Method<ModelRef, ModelMetadataResponse>;
    this.#check = healthService().Check as Method<{ service: string }, HealthCheckResponse>;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** ModelInfer; `deadline` in epoch milliseconds (grpc-js keeps deadlines on the wall clock). */
  infer(
    request: ModelInferRequest,
    metadata: Metadata,
    deadline: number,
    done: (result: UnaryResult<ModelInferResponse>) => void,
  ): ClientUnaryCall | undefined {
    return this.#unary(this.#infer, request, metadata, deadline, done);
  }

  modelMetadata(request: ModelRef, deadline: number): Promise<UnaryResult<ModelMetadataResponse>> {
    return new Promise((resolve) => this.#unary(this.#metadata, request, new Metadata(), deadline, resolve));
  }

  /** grpc.health.v1.Health/Check of the server as a whole (service ""). */
  check(deadline: number): Promise<UnaryResult<HealthCheckResponse>> {
    return new Promise((resolve) =>
      this.#unary(this.#check, { service: '' }, new Metadata(), deadline, resolve),
    );
  }

  /** Closes the channel; calls still in flight finish. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.close();
  }

  /** Cancels the calls still in flight (they end CANCELLED) and closes the channel. */
  destroy(): void {
    for (const call of this.#calls) call.cancel();
    this.close();
  }

  #unary<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    metadata: Metadata,
    deadline: number,
    done: (result: UnaryResult<Response>) => void,
  ): ClientUnaryCall | undefined {
    // The callback and the status event come in either order; the result waits for both.
    let outcome: { response?: Response; error?: ServiceError } | undefined;
    let status: StatusObject | undefined;
    let call: ClientUnaryCall | undefined;
    const settle = (): void => {
      if (!outcome || !status) return;
      if (call) this.#calls.delete(call);
      done({ ...outcome, trailers: status.metadata });
    };
    try {
      call = this.#client.makeUnaryRequest<Request, Response>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline },
        (error, response) => {
          outcome = error ? { error } : { response: response as Response };
          settle();
        },
      );
    } catch (error) {
      // A closed channel refuses a call at once (a request of a reloaded config's old pool can
      // still retry on it): no server answered, as with a refused connection.
      const details = error instanceof Error ? error.message : String(error);
      const refused = Object.assign(new Error(details), {
        code: Status.UNAVAILABLE,
        details,
        metadata: new Metadata(),
      }) as ServiceError;
      queueMicrotask(() => done({ error: refused, trailers: undefined }));
      return undefined;
    }
    this.#calls.add(call);
    call.on('status', (s: StatusObject) => {
      status = s;
      settle();
    });
    return call;
  }
}
