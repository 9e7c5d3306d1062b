import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from '../config/common.js';

/**
 * What `switchyard rollout` remembers in the file itself: the weights before its last `set` or
 * `promote`, so `rollback` can restore them from the file alone (the gateway ignores the field;
 * keeping it beside `variants` means a reviewer sees what a rollback would do). `rollback` removes it.
 */
export const RolloutModelFields = {
  rollback_weights: Type.Optional(
    Type.Record(Type.String({ pattern: NAME_PATTERN }), Type.Number({ minimum: 0, maximum: 100 }), {
      additionalProperties: false,
      description:
        'variant weights before the last `switchyard rollout` set or promote; rollback restores them',
    }),
  ),
};

export type RollbackWeights = Static<(typeof RolloutModelFields)['rollback_weights']>;
