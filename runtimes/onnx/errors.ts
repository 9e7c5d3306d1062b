/**
 * Errors the runtime answers with. The Open Inference Protocol's error body is `{"error": "<message>"}`;
 * the status says what kind of failure it was.
 */
export class RuntimeError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 500 | 503 | 504,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RuntimeError';
  }
}

export const badRequest = (message: string): RuntimeError => new RuntimeError(400, message);
export const notFound = (message: string): RuntimeError => new RuntimeError(404, message);
