/**
 * Why a request body was refused before it was parsed, whoever read it (the fast path's readBody
 * or a Fastify preParsing stream): each server answers each kind in its own error shape.
 */
export type BodyProblemKind = 'too_large' | 'unsupported_encoding' | 'corrupt_encoding';

const STATUS: Record<BodyProblemKind, 413 | 415 | 400> = {
  too_large: 413,
  unsupported_encoding: 415,
  corrupt_encoding: 400,
};

/**
 * A refused body as an error a Fastify stream can emit: `statusCode` is what Fastify's body
 * reader keeps (it sets 400 on an error without one), `limit` the limit that was passed.
 */
export class BodyProblem extends Error {
  readonly statusCode: number;

  constructor(
    readonly kind: BodyProblemKind,
    readonly detail: string,
    readonly limit: number,
  ) {
    super(`${kind}: ${detail}`);
    this.name = 'BodyProblem';
    this.statusCode = STATUS[kind];
  }
}
