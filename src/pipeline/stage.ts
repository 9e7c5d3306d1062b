import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayError } from '../errors.js';
import type { InferRequest, InferResponse } from '../shared/oip.js';
import type { TenantConfig } from '../stages/auth/config.js';
import type { VariantConfig } from '../stages/route/config.js';

/** key: the hashed user key; random: no key; forced: the debug header; pinned: a version in the URL. */
export type AssignmentSource = 'key' | 'random' | 'forced' | 'pinned';

/** The three ways a client asks a model: OIP tensors, KServe v1 instances, or named features. */
export type EndpointKind = 'infer' | 'predict' | 'decision';

/** What one request carries through the stages. Stages declare the fields they read with Pick<>. */
export interface RequestContext {
  readonly requestId: string;
  readonly endpoint: EndpointKind;
  readonly model: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  /** performance.now() when the gateway received the request. */
  readonly receivedAt: number;
  /** performance.now() by which the caller must have its answer. */
  deadline: number;
  tenant: TenantConfig | undefined;
  /** The key the user is hashed by, when the request had one. */
  userKey: string | undefined;
  variant: VariantConfig | undefined;
  /**
   * The version the URL pins (`/v2/models/{m}/versions/{v}/infer`): routed to the variant serving
   * it, bypassing the hashed assignment. Undefined on every other URL.
   */
  readonly pinnedVersion?: string;
  /** How the route stage chose the variant, as metrics and the prediction log record it. */
  assignment?: AssignmentSource;
  /** The Open Inference Protocol request sent upstream (validate builds it for every endpoint). */
  inference: InferRequest | undefined;
  /**
   * `inference` as JSON, once the first runtime call wrote it: a fallback variant and the
   * shadows' mirrored copies send the same text instead of serialising it again.
   */
  inferenceText: string | undefined;
  /**
   * The bytes of the inputs the client gave in binary (the binary tensor extension), in the
   * inputs' order: sent after `inferenceText` as they came. Undefined for an all-JSON request.
   */
  inferenceTensors?: readonly Buffer[];
  /** Each stage's own milliseconds (time spent in later stages excluded), by position. */
  readonly stageMs: Float64Array;
  /** Response headers a stage wants sent whatever the outcome (RateLimit-*, x-switchyard-*). */
  readonly headersOut: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  body: unknown;
  /** Binary outputs (the binary tensor extension) that follow the JSON `body`, in its outputs' order. */
  tensors?: readonly Uint8Array[];
}

export interface FallbackUsed {
  kind: 'cache' | 'variant' | 'default';
  reason: string;
}

/** A model answered (or a fallback did, in its place). */
export interface Answer {
  readonly ok: true;
  /** Tensors, from a runtime or the cache; absent when a default decision answered. */
  response: InferResponse | undefined;
  /** A `default` fallback's business decision. */
  decision?: { decision: string; score?: number };
  /** The variant that answered; for a `default` decision the assigned one (see answeredBy). */
  variant: string;
  version: string;
  fallback?: FallbackUsed;
  /** The runtime's `server-timing` on this answer. */
  runtimeTiming?: string;
}

/**
 * The model version whose output the answer carries: the variant (live, or kept by the cache) that
 * answered. Undefined for a `default` fallback's fixed decision, which no model gave — so headers,
 * the decision body and the prediction log never name the assigned variant as having answered.
 */
export function answeredBy(answer: Answer): { variant: string; version: string } | undefined {
  return answer.fallback?.kind === 'default'
    ? undefined
    : { variant: answer.variant, version: answer.version };
}

/** The request was refused or failed, with the error the caller sees. */
export interface Refusal {
  readonly ok: false;
  error: GatewayError;
}

export type Reply = Answer | Refusal;

export type Next = () => Promise<Reply>;

/** Turns the stages' reply into what the client gets, shaped for the endpoint it called. */
export type Respond = (ctx: RequestContext, reply: Reply) => HttpResponse;

/** A request the pipeline has answered: what the after-phase is given. */
export interface Finished {
  readonly ctx: RequestContext;
  readonly reply: Reply;
  readonly response: HttpResponse;
  /** The pipeline's stage names, in the order of `ctx.stageMs` (one array per pipeline). */
  readonly stageNames: readonly string[];
  /** From calling the pipeline to its answer, in ms. */
  readonly pipelineMs: number;
  /** performance.now() when the answer was ready. */
  readonly finishedAt: number;
}

/** Runs once the answer is ready (metrics, log line, prediction record); must not throw. */
export type AfterStep = (finished: Finished) => void;

/** Acts before (returns a Refusal or calls next), wraps (calls next and inspects), or acts after. */
export type Stage = (ctx: RequestContext, next: Next) => Promise<Reply>;

export interface NamedStage {
  /** Also the stage's entry in `server-timing`. */
  readonly name: string;
  readonly run: Stage;
}

export const refuse = (error: GatewayError): Refusal => ({ ok: false, error });
