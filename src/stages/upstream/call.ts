import type { IncomingHttpHeaders } from 'node:http';
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

/**
 * One HTTP exchange with one endpoint; never throws. The deadline is our own native timer:
 * undici's headersTimeout runs on its coarse "fast timers" (about half a second of resolution),
 * far too loose for a budget of a few hundred milliseconds.
 */
export async function callEndpoint(
  endpoint: Endpoint,
  path: string,
  body: string,
  timeoutMs: number,
  headers: IncomingHttpHeaders,
): Promise<CallResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await endpoint.dispatcher.request({ path, method: 'POST', headers, body, signal: controller.signal });
    const text = await response.body.text();
    const timing = response.headers['server-timing'];
    return {
      status: response.statusCode,
      text,
      serverTiming: typeof timing === 'string' ? timing : undefined,
      timedOut: false,
    };
  } catch (error) {
    return { status: 0, text: '', serverTiming: undefined, timedOut: controller.signal.aborted, error: error as Error };
  } finally {
    clearTimeout(timer);
  }
}
