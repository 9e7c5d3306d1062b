import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EndpointKind, RequestContext } from '../pipeline/stage.js';

const SAFE_REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token, so client, gateway and runtime logs join up. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** The budget is the smaller of the model's and the caller's `x-request-timeout-ms`. */
export function budgetMs(headers: IncomingHttpHeaders, modelBudgetMs: number): number {
  const header = headers['x-request-timeout-ms'];
  if (typeof header !== 'string' || header.trim() === '') return modelBudgetMs;
  const callerMs = Number(header);
  return Number.isFinite(callerMs) && callerMs >= 0 ? Math.min(callerMs, modelBudgetMs) : modelBudgetMs;
}

export function createContext(fields: {
  requestId: string;
  endpoint: EndpointKind;
  model: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  receivedAt: number;
  budgetMs: number;
  stageCount: number;
  pinnedVersion?: string;
}): RequestContext {
  return {
    requestId: fields.requestId,
    endpoint: fields.endpoint,
    model: fields.model,
    headers: fields.headers,
    body: fields.body,
    receivedAt: fields.receivedAt,
    deadline: fields.receivedAt + fields.budgetMs,
    tenant: undefined,
    userKey: undefined,
    variant: undefined,
    ...(fields.pinnedVersion === undefined ? {} : { pinnedVersion: fields.pinnedVersion }),
    inference: undefined,
    inferenceText: undefined,
    inferenceTensors: undefined,
    stageMs: new Float64Array(fields.stageCount),
    headersOut: {},
  };
}
