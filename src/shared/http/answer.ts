export const JSON_TYPE = 'application/json; charset=utf-8';

/** A whole answer: its status, its own headers, its JSON text. */
export interface FastPathAnswer {
  status: number;
  headers?: Record<string, string>;
  json: string;
}
