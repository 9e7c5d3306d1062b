import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { checkIntervalFor } from './client-limits.js';

/** A request whose body is arriving: the socket's byte count and the check that last saw it move. */
interface Progress {
  response: ServerResponse;
  bytesRead: number;
  seenAtCheck: number;
}

/**
 * nginx's client_body_timeout: a request whose body gets no byte for `timeoutMs` is handed to
 * `onStalled` ("set only for a period between two successive read operations, not for the
 * transmission of the whole request body"). Checked as Node checks its own header timeout: one
 * timer per server sweeps the requests whose bodies are arriving, every tenth of the timeout (at
 * most a second), and compares each socket's `bytesRead` with the last sweep's — which counts
 * every read, also while Node's HTTP parser reads the socket natively. A stall is reported
 * between `timeoutMs` and one sweep later, never earlier. A request costs a map entry and an
 * `end` listener, no timer of its own; the server's reads are untouched, so it holds whoever
 * reads the body, the fast path or Fastify.
 *
 * Returns the function to call with each request as it arrives.
 */
export function watchBodyPace(
  server: Server,
  timeoutMs: number,
  onStalled: (request: IncomingMessage, response: ServerResponse) => void,
): (request: IncomingMessage, response: ServerResponse) => void {
  const arriving = new Map<IncomingMessage, Progress>();
  const everyMs = checkIntervalFor(timeoutMs);
  // Sweeps without a move before a stall: the last move happened at most one sweep before it was seen.
  const stallChecks = Math.ceil(timeoutMs / everyMs);
  let checks = 0;

  const sweeper = setInterval(() => {
    checks++;
    for (const [request, progress] of arriving) {
      // Complete (read or not) or abandoned: nothing more to wait for.
      if (request.complete || request.destroyed) {
        arriving.delete(request);
        continue;
      }
      const { bytesRead } = request.socket;
      if (bytesRead !== progress.bytesRead) {
        progress.bytesRead = bytesRead;
        progress.seenAtCheck = checks;
      } else if (checks - progress.seenAtCheck >= stallChecks) {
        arriving.delete(request);
        onStalled(request, progress.response);
      }
    }
  }, everyMs).unref();
  server.once('close', () => clearInterval(sweeper));

  function forget(this: IncomingMessage): void {
    arriving.delete(this);
  }

  return function watch(request, response) {
    if (!hasBody(request.headers)) return;
    // Counted from the next sweep: the request arrived at some time before it.
    arriving.set(request, { response, bytesRead: request.socket.bytesRead, seenAtCheck: checks + 1 });
    request.on('end', forget);
  };
}

/** A request has a body when it says how it is framed (RFC 9112 §6.3); content-length 0 is none. */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
