import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Endpoint } from '../runtime-pool/index.js';

export interface ExchangeResult {
  /** HTTP status, or 0 when no response came (connection error or timeout). */
  status: number;
  text: string;
  serverTiming: string | undefined;
  /** The runtime did not answer before the time we could give it. */
  timedOut: boolean;
  error?: Error;
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * One HTTP exchange with one http(s) endpoint; never throws. It uses undici's `dispatch` with a handler
 * that gathers the body into one buffer: the `request` API's Readable body and AbortSignal
 * cost more per call than the rest of the exchange here. The deadline is a native timer of our
 * own: undici's headersTimeout runs on coarse "fast timers" (about half a second).
 */
export function exchange(
  endpoint: Endpoint,
  path: string,
  body: string | Buffer,
  timeoutMs: number,
  headers: IncomingHttpHeaders,
): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve) => {
    let controller: Dispatcher.DispatchController | undefined;
    let timedOut = false;
    let status = 0;
    let serverTiming: string | undefined;
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      timedOut = true;
      controller?.abort(new DeadlineError(timeoutMs));
    }, timeoutMs);
    const finish = (result: ExchangeResult): void => {
      clearTimeout(timer);
      resolve(result);
    };
    endpoint.dispatcher!.dispatch(
      { origin: endpoint.url, path, method: 'POST', headers, body },
      {
        onRequestStart(ctl) {
          controller = ctl;
          if (timedOut) ctl.abort(new DeadlineError(timeoutMs));
        },
        onResponseStart(_ctl, statusCode, responseHeaders) {
          status = statusCode;
          const timing = responseHeaders['server-timing'];
          serverTiming = typeof timing === 'string' ? timing : undefined;
        },
        onResponseData(_ctl, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          const text =
            chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
          finish({ status, text, serverTiming, timedOut: false });
        },
        onResponseError(_ctl, error) {
          finish({ status: 0, text: '', serverTiming: undefined, timedOut, error });
        },
      },
    );
  });
}
