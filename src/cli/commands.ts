import type { CommandSpec } from './command-spec.js';
import { DEV_SPEC } from './dev.js';
import { GATEWAY_SPEC } from './gateway.js';
import { KEYS_SPEC } from './keys.js';
import { LOG_SPEC } from './log.js';
import { MODEL_SPEC } from './model.js';
import { ROLLOUT_SPEC } from './rollout.js';
import { RUNTIME_SPEC } from './runtime.js';
import { VALIDATE_SPEC } from './validate.js';

/**
 * Every command of `switchyard`, in the order its usage lists them. The help, the parsing and the
 * README's command table (test/docs/readme-reference.test.ts) all read these.
 */
export const COMMANDS: readonly CommandSpec[] = [
  GATEWAY_SPEC,
  RUNTIME_SPEC,
  DEV_SPEC,
  VALIDATE_SPEC,
  ROLLOUT_SPEC,
  KEYS_SPEC,
  LOG_SPEC,
  MODEL_SPEC,
];
