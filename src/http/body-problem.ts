import { gatewayError, type ErrorName, type GatewayError } from '../errors.js';
import type { BodyProblem, BodyProblemKind } from '../shared/http/body-problem.js';

const BODY_PROBLEM_ERRORS: Record<BodyProblemKind, ErrorName> = {
  too_large: 'HTTP_BODY_TOO_LARGE',
  unsupported_encoding: 'HTTP_UNSUPPORTED_ENCODING',
  malformed_encoding: 'HTTP_MALFORMED_ENCODING',
};

/** A body refused before it was parsed (src/shared/http/body-problem.ts), as the gateway's error. */
export function bodyProblemError(problem: BodyProblem): GatewayError {
  return gatewayError(BODY_PROBLEM_ERRORS[problem.kind], problem.detail, { cause: problem });
}
