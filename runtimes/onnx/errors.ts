/**
 * Errors the runtime answers with. The Open Inference Protocol's error body is `{"error": "<message>"}`;
 * the status says what kind of failure it was.
 */
export class RuntimeError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 500 | 503 | 504,
    message: string,
    options?: { cause?: unknown; queueFull?: boolean },
  ) {
    super(message, options);
    this.name = 'RuntimeError';
    this.queueFull = options?.queueFull ?? false;
  }

  /**
   * A 503 because the model's queue is full, not because it is not ready: over HTTP both are 503,
   * gRPC tells them apart (RESOURCE_EXHAUSTED and UNAVAILABLE).
   */
  readonly queueFull: boolean;
}

export const badRequest = (message: string): RuntimeError => new RuntimeError(400, message);
export const notFound = (message: string): RuntimeError => new RuntimeError(404, message);
