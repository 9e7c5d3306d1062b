export const JSON_TYPE = 'application/json; charset=utf-8';

/** A whole answer: its status, its own headers, its JSON text. */
export interface FastPathAnswer {
  status: number;
  headers?: Record<string, string>;
  json: string;
  /**
   * A body that is not JSON text (the binary tensor extension's JSON-then-tensors body), sent
   * with its own content type instead of `json`.
   */
  bytes?: { body: Buffer; type: string };
}
