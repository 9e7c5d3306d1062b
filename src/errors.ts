/**
 * Every error the gateway answers with, in one table: a stable code (`SWY_ERR_<AREA>_<PROBLEM>`),
 * the HTTP status, and the message callers see. The wire form is
 * `{"error": {"code": "...", "message": "...", "problems"?: [...]}}`, or on the protocol routes
 * `{"error": "...", "code": "...", "problems"?: [...]}` (errorBody) — never a stack trace.
 */
export const ERRORS = {
  AUTH_MISSING_KEY: [401, 'an API key is required: send Authorization: Bearer <key> or x-api-key'],
  AUTH_UNKNOWN_KEY: [401, 'the API key is not known'],
  AUTH_FORBIDDEN: [403, 'the API key does not have the scope this needs'],
  HTTP_NOT_FOUND: [404, 'no such route'],
  HTTP_BODY_TOO_LARGE: [413, 'the request body is larger than the limit'],
  HTTP_MALFORMED_JSON: [400, 'the request body is not valid JSON'],
  HTTP_UNSUPPORTED_ENCODING: [415, 'the request body is in a content coding the gateway does not decode'],
  HTTP_MALFORMED_ENCODING: [400, 'the request body does not decode in its content coding'],
  HTTP_JSON_TOO_DEEP: [400, 'the request body nests arrays and objects deeper than the limit'],
  HTTP_MALFORMED_BINARY: [
    400,
    'the request body does not follow the binary tensor extension (Inference-Header-Content-Length, binary_data_size)',
  ],
  HTTP_MALFORMED_REQUEST: [400, 'the request is not valid HTTP/1.1'],
  HTTP_HEADERS_TOO_LARGE: [431, 'the request headers are larger than the limit'],
  HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
  MODEL_UNKNOWN: [404, 'no such model'],
  MODEL_UNKNOWN_VERSION: [404, 'no variant of the model serves this version'],
  MODEL_UNAVAILABLE: [503, 'the model cannot serve requests now'],
  INPUT_INVALID: [400, 'the request does not fit the model'],
  ROUTE_MISSING_KEY: [400, 'the request has no user key, and this model requires one'],
  ROUTE_UNKNOWN_VARIANT: [400, 'the forced variant does not exist'],
  ROUTE_FORCE_FORBIDDEN: [403, 'forcing a variant needs a key with the debug scope'],
  ROUTE_PIN_FORBIDDEN: [403, 'pinning a model version needs a key with the pin or debug scope'],
  RATELIMIT_EXCEEDED: [429, 'rate limit exceeded'],
  ADMISSION_SHED: [503, 'the model is overloaded; the request was shed'],
  GATEWAY_DRAINING: [503, 'the gateway is shutting down'],
  UPSTREAM_NO_ENDPOINT: [503, 'no healthy runtime endpoint'],
  UPSTREAM_CIRCUIT_OPEN: [503, 'the circuit breaker of this variant is open'],
  UPSTREAM_FAILED: [502, 'the runtime failed to answer'],
  UPSTREAM_REFUSED: [502, 'the runtime refused the request'],
  UPSTREAM_MALFORMED_ANSWER: [502, 'the runtime answered with a malformed inference response'],
  BUDGET_EXHAUSTED: [504, 'the latency budget ran out before the model answered'],
  ADMIN_UNKNOWN_ENDPOINT: [404, 'no such upstream endpoint'],
  ROLLOUT_UNKNOWN: [404, 'no rollout runs for this model'],
  ROLLOUT_STATE: [409, 'the rollout is not in a state that allows this'],
  ROLLOUT_STORE_UNAVAILABLE: [
    503,
    "the rollout's shared state (Redis) cannot be reached; nothing was changed",
  ],
  INTERNAL: [500, 'internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorName = keyof typeof ERRORS;

/**
 * The code on the wire. Typed, so code that compares against one (a Set of codes, a switch, a
 * test) stops compiling when an entry of the table is renamed or removed.
 */
export type ErrorCode = `SWY_ERR_${ErrorName}`;

export interface Problem {
  path: string;
  message: string;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(
    readonly name_: ErrorName,
    detail?: string,
    readonly extra: { problems?: Problem[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    const [status, message] = ERRORS[name_];
    super(
      detail ? `${message}: ${detail}` : message,
      extra.cause === undefined ? undefined : { cause: extra.cause },
    );
    this.name = 'GatewayError';
    this.code = `SWY_ERR_${name_}`;
    this.status = status;
  }

  toJSON(): { error: { code: ErrorCode; message: string; problems?: Problem[] } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.extra.problems ? { problems: this.extra.problems } : {}),
      },
    };
  }
}

/**
 * The two wire forms of an error. `protocol`, on the Open Inference Protocol and KServe v1 routes
 * (`/v2/*`, `/v1/models/*`): the protocol's `{"error": "<message>"}` (OIP REST, inference_rest.md,
 * the `$..._error_response` objects; KServe's v1 data plane the same), which Triton and KServe
 * clients read as a string, with the code and problems as extra fields beside it. `switchyard`,
 * everywhere else (the decision API, admin): `{"error": {"code", "message", "problems"?}}`.
 */
export type ErrorShape = 'protocol' | 'switchyard';

/** Every error answer carries its code in this header too, whatever its body's shape. */
export const ERROR_CODE_HEADER = 'x-switchyard-error-code';

export function errorBody(error: GatewayError, shape: ErrorShape): object {
  if (shape === 'switchyard') return error.toJSON();
  return {
    error: error.message,
    code: error.code,
    ...(error.extra.problems ? { problems: error.extra.problems } : {}),
  };
}

export const gatewayError = (
  name: ErrorName,
  detail?: string,
  extra?: ConstructorParameters<typeof GatewayError>[2],
): GatewayError => new GatewayError(name, detail, extra);
