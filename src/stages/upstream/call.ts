import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors } from 'undici';
import type { Endpoint } from '../../upstream/index.js';

export interface CallResult {
  /** HTTP status, or 0 when no response came (connection error or timeout). */
  status: number;
  text: string;
  serverTiming: string | undefined;
  /** The runtime did not answer before the time we could give it. */
  timedOut: boolean;
  error?: Error;
}

/** One HTTP exchange with one endpoint; never throws. */
export async function callEndpoint(
  endpoint: Endpoint,
  path: string,
  body: string,
  timeoutMs: number,
  headers: IncomingHttpHeaders,
): Promise<CallResult> {
  try {
    const response = await endpoint.dispatcher.request({
      path,
      method: 'POST',
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    const timing = response.headers['server-timing'];
    return {
      status: response.statusCode,
      text,
      serverTiming: typeof timing === 'string' ? timing : undefined,
      timedOut: false,
    };
  } catch (error) {
    const timedOut =
      error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
    return { status: 0, text: '', serverTiming: undefined, timedOut, error: error as Error };
  }
}
