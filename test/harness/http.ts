import { Agent, request } from 'undici';

/** One keep-alive agent for a test's requests; close it in the test's cleanup. */
export function createClient(connections = 128): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 10_000 });
}

export interface JsonResponse {
  /** The URL asked. */
  url?: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export async function postJson(
  dispatcher: Agent,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const response = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', ...headers },
    body: payload,
  });
  const text = await response.body.text();
  return { url, status: response.statusCode, headers: response.headers, body: parse(text), text };
}

export async function getJson(
  dispatcher: Agent,
  url: string,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const response = await request(url, { method: 'GET', dispatcher, headers });
  const text = await response.body.text();
  return { url, status: response.statusCode, headers: response.headers, body: parse(text), text };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Sums a Prometheus counter or histogram series (`name{...}` lines whose labels include `labels`). */
export function metricValue(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`)))
      total += Number(match[3]);
  }
  return total;
}

/** An error answer's fields, whichever of the gateway's two wire shapes it came in. */
export interface WireError {
  /** `protocol`: `{"error": "<message>", "code"}` (/v2/*, /v1/models/*); `switchyard`: `{"error": {"code", "message"}}`. */
  shape: 'protocol' | 'switchyard';
  code: string;
  message: string;
  problems?: { path: string; message: string }[];
}

/** Reads an error body in either shape (src/errors.ts, ErrorShape); undefined when it is neither. */
export function wireError(body: unknown): WireError | undefined {
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, code, problems } = body as {
    error?: unknown;
    code?: unknown;
    problems?: WireError['problems'];
  };
  if (typeof error === 'string' && typeof code === 'string')
    return { shape: 'protocol', code, message: error, ...(problems ? { problems } : {}) };
  if (typeof error === 'object' && error !== null) {
    const inner = error as { code?: unknown; message?: unknown; problems?: WireError['problems'] };
    if (typeof inner.code === 'string' && typeof inner.message === 'string')
      return {
        shape: 'switchyard',
        code: inner.code,
        message: inner.message,
        ...(inner.problems ? { problems: inner.problems } : {}),
      };
  }
  return undefined;
}
