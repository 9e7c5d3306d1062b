import {
  credentials,
  status as Status,
  makeGenericClientConstructor,
  Metadata,
  type Client,
  type ServiceError,
  type status,
} from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { healthService, inferenceService, type ModelInferResponse } from '../../src/shared/grpc/inference.js';
import { startLoop, type LoadRun, type LoopOptions } from './closed-loop.js';

/** A call's answer: the response, or the status it failed with; and the trailing metadata. */
export interface GrpcResult<Response> {
  response?: Response;
  error?: ServiceError;
  code: status;
  trailers?: Metadata;
}

export interface InferenceClient {
  call<Response = Record<string, unknown>>(
    method: string,
    request: object,
    options?: { metadata?: Record<string, string>; deadlineMs?: number },
  ): Promise<GrpcResult<Response>>;
  close(): void;
  raw: Client;
}

/**
 * A grpc-js client of `inference.GRPCInferenceService`, built from the same .proto the servers load
 * (src/shared/grpc/inference.proto): what an unchanged Triton or KServe gRPC client sends.
 */
export function inferenceClient(address: string, options: Record<string, number> = {}): InferenceClient {
  return serviceClient(inferenceService(), address, options);
}

/** A client of grpc.health.v1.Health (src/shared/grpc/health.proto): what Kubernetes' grpc probe calls. */
export function healthClient(address: string): InferenceClient {
  return serviceClient(healthService(), address);
}

function serviceClient(
  service: ServiceDefinition,
  address: string,
  options: Record<string, number> = {},
): InferenceClient {
  const Constructor = makeGenericClientConstructor(service, 'Service');
  const client = new Constructor(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    ...options,
  });
  type Unary = (
    request: object,
    metadata: Metadata,
    callOptions: { deadline?: number },
    done: (error: ServiceError | null, response?: unknown) => void,
  ) => { on(event: 'status', listener: (s: { metadata: Metadata }) => void): void };
  return {
    raw: client,
    close: () => client.close(),
    call<Response>(
      method: string,
      request: object,
      callOptions: { metadata?: Record<string, string>; deadlineMs?: number } = {},
    ) {
      const metadata = new Metadata();
      for (const [key, value] of Object.entries(callOptions.metadata ?? {})) metadata.set(key, value);
      const deadline = callOptions.deadlineMs === undefined ? undefined : Date.now() + callOptions.deadlineMs;
      return new Promise<GrpcResult<Response>>((resolve) => {
        let trailers: Metadata | undefined;
        let settled: GrpcResult<Response> | undefined;
        const finish = (): void => {
          if (settled && trailers) resolve({ ...settled, trailers });
        };
        const unary = (client as unknown as Record<string, Unary>)[method]!.bind(client);
        const call = unary(request, metadata, { deadline }, (error, response) => {
          settled = error ? { error, code: error.code } : { response: response as Response, code: 0 };
          if (error) trailers = error.metadata;
          finish();
        });
        call.on('status', (s) => {
          trailers = s.metadata;
          finish();
        });
      });
    },
  };
}

/**
 * Sends `bytes` as they are as the request of `method` (`/inference.GRPCInferenceService/ModelInfer`):
 * what a client whose message does not decode sends. Resolves with the call's error (null when it
 * succeeded), which carries its status and trailing metadata.
 */
export function callWithBytes(
  client: InferenceClient,
  method: string,
  bytes: Buffer,
  metadata: Record<string, string> = {},
): Promise<{ error: ServiceError | null }> {
  const sent = new Metadata();
  for (const [key, value] of Object.entries(metadata)) sent.set(key, value);
  const same = (b: Buffer) => b;
  return new Promise((resolve) =>
    client.raw.makeUnaryRequest(method, same, same, bytes, sent, (error) => resolve({ error })),
  );
}

/** A ModelInferRequest for the fraud model: `rows` as typed fp32_contents, or as raw contents. */
export function fraudInferMessage(rows: number[][], raw = false) {
  const input = { name: 'features', datatype: 'FP32', shape: [rows.length, 8] };
  return raw
    ? {
        model_name: 'fraud',
        inputs: [input],
        raw_input_contents: [Buffer.from(new Float32Array(rows.flat()).buffer)],
      }
    : { model_name: 'fraud', inputs: [{ ...input, contents: { fp32_contents: rows.flat() } }] };
}

/** The scores of a fraud ModelInferResponse, typed or raw. */
export function fraudScoresOf(response: ModelInferResponse): number[] {
  const raw = response.raw_output_contents[0];
  if (raw) return Array.from(new Float32Array(new Uint8Array(raw).buffer));
  return response.outputs[0]!.contents!.fp32_contents!;
}

/**
 * A closed-loop load of ModelInfer calls on `client` (closed-loop.ts's loop): an OK call is a
 * sample of status 200, any other status one of status 0 with the status's name and details as
 * its error; variant and fallback come from the trailers.
 */
export function startGrpcLoad(
  client: InferenceClient,
  options: LoopOptions & {
    request: (index: number) => { request: object; metadata?: Record<string, string> };
    /** Each call's deadline. Default 10 s. */
    deadlineMs?: number;
  },
): LoadRun {
  return startLoop(options, async (index) => {
    const { request, metadata } = options.request(index);
    const result = await client.call('ModelInfer', request, {
      ...(metadata ? { metadata } : {}),
      deadlineMs: options.deadlineMs ?? 10_000,
    });
    const trailer = (name: string) => {
      const value = result.trailers?.get(name)[0];
      return typeof value === 'string' ? value : undefined;
    };
    return {
      status: result.code === Status.OK ? 200 : 0,
      variant: trailer('x-switchyard-variant'),
      fallback: trailer('x-switchyard-fallback'),
      ...(result.code === Status.OK ? {} : { error: `${Status[result.code]}: ${result.error?.details}` }),
    };
  });
}
