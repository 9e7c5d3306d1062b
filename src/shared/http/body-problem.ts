/**
 * Why a request body was refused before it was parsed, whoever read it (the fast path's readBody
 * or a Fastify preParsing stream): each server answers each kind in its own error shape.
 */
export type BodyProblemKind = 'too_large' | 'unsupported_encoding' | 'malformed_encoding';

const STATUS: Record<BodyProblemKind, 413 | 415 | 400> = {
  too_large: 413,
  unsupported_encoding: 415,
  malformed_encoding: 400,
};

/**
 * A refused body as an error a Fastify stream can emit: `statusCode` is what Fastify's body
 * reader keeps (it sets 400 on an error without one). `detail` says what was wrong in a few
 * words (`over 4096 bytes`, `"br"`), `limit` is the body limit that applied.
 */
export class BodyProblem extends Error {
  readonly statusCode: number;

  constructor(
    readonly kind: BodyProblemKind,
    readonly detail: string,
    readonly limit: number,
    options?: { cause?: unknown },
  ) {
    super(`${kind.replace('_', ' ')}: ${detail}`, options);
    this.name = 'BodyProblem';
    this.statusCode = STATUS[kind];
  }
}

export const tooLarge = (limit: number): BodyProblem =>
  new BodyProblem('too_large', `over ${limit} bytes`, limit);
