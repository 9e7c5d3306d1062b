import { Type, type Static } from '@sinclair/typebox';
import { NAME_PATTERN } from '../config/common.js';

// Descriptions become the published JSON schema's (editors show them). A union's or a pattern's
// description also completes the load error "expected …", so those read as what is expected.

/** One step of a rollout: the shadow phase, or the share of the baseline's users on the candidate. */
export const RolloutStepSchema = Type.Union(
  [Type.Literal('shadow'), Type.Number({ exclusiveMinimum: 0, maximum: 100 })],
  { description: "'shadow' or a percent in (0, 100]" },
);

const share = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

/** What a step must show before it passes; each check is optional, at least one is set. */
export const RolloutCriteriaSchema = Type.Object(
  {
    error_rate: Type.Optional(
      Type.Object(
        {
          max_increase: share(
            "the candidate's error rate may exceed the baseline's by at most this much (0.005 = half a percentage point)",
          ),
        },
        { additionalProperties: false, description: 'compares the error rates of candidate and baseline' },
      ),
    ),
    latency_p99: Type.Optional(
      Type.Object(
        {
          max_ratio: Type.Number({
            minimum: 1,
            description: "the candidate's p99 latency may be at most this multiple of the baseline's",
          }),
        },
        { additionalProperties: false, description: 'compares the p99 latencies of candidate and baseline' },
      ),
    ),
    fallback_rate: Type.Optional(
      Type.Object(
        {
          max_increase: share("the candidate's fallback rate may exceed the baseline's by at most this much"),
        },
        { additionalProperties: false, description: 'compares the fallback rates of candidate and baseline' },
      ),
    ),
    agreement: Type.Optional(
      Type.Object(
        {
          min: share('the least share of mirrored requests on which the candidate gives the same decision'),
        },
        {
          additionalProperties: false,
          description:
            'decisions of the candidate and the baseline on the same mirrored requests; needs a contract',
        },
      ),
    ),
    score_delta: Type.Optional(
      Type.Object(
        {
          max_mean_abs: Type.Number({
            minimum: 0,
            description:
              'the largest mean absolute difference of the two scores on the same mirrored requests',
          }),
        },
        {
          additionalProperties: false,
          description:
            'scores of the candidate and the baseline on the same mirrored requests; needs a contract',
        },
      ),
    ),
    drift_psi: Type.Optional(
      Type.Object(
        {
          max: Type.Number({
            exclusiveMinimum: 0,
            description:
              "the largest population stability index of the candidate's scores against the baseline's",
          }),
        },
        { additionalProperties: false, description: 'score distribution drift; needs a contract' },
      ),
    ),
    decision_rate: Type.Optional(
      Type.Object(
        {
          decision: Type.String({ minLength: 1, description: "one of the contract's decisions" }),
          max_change: share(
            "how far the candidate's share of this decision may move from the baseline's, either way",
          ),
        },
        {
          additionalProperties: false,
          description: 'how often one decision is given, candidate against baseline; needs a contract',
        },
      ),
    ),
  },
  { additionalProperties: false, description: 'the checks a step must pass; at least one is set' },
);

/** Where the rollout's progress is posted; the policy only says where and how hard to try. */
export const RolloutNotifySchema = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL' }),
    timeout_ms: Type.Integer({ minimum: 1, default: 2000, description: 'how long one attempt may take' }),
    retries: Type.Integer({
      minimum: 0,
      maximum: 10,
      default: 3,
      description: 'further attempts after a failed one',
    }),
  },
  { additionalProperties: false, description: 'where rollout events are posted' },
);

/**
 * A progressive delivery the gateway runs itself: the candidate takes the baseline's users step
 * by step while its checks pass, and gives them back when they fail. The file states the desired
 * policy; the gateway never writes it. The rules between fields (and against the model's variants,
 * shadows and contract) are in ./checks.ts.
 */
export const RolloutPolicySchema = Type.Object(
  {
    candidate: Type.String({
      pattern: NAME_PATTERN,
      description: 'the name of the variant rolled out (a variant of this model at weight 0)',
    }),
    baseline: Type.String({
      pattern: NAME_PATTERN,
      description: 'the name of the variant whose users the candidate takes (another variant, weight > 0)',
    }),
    steps: Type.Array(RolloutStepSchema, {
      minItems: 1,
      description:
        "in order: 'shadow' (first only: mirrored traffic, no users), then percents of the baseline's users moved to the candidate, strictly ascending",
    }),
    interval_s: Type.Number({
      minimum: 0.05,
      default: 60,
      description: 'seconds between checks of a step',
    }),
    min_samples: Type.Integer({
      minimum: 1,
      default: 500,
      description: 'requests per step and per side before any verdict other than an immediate abort',
    }),
    failure_limit: Type.Integer({
      minimum: 1,
      default: 3,
      description: 'failed checks in a row that roll the candidate back',
    }),
    pause_before: Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 100 }), {
      default: [],
      uniqueItems: true,
      description: 'numeric steps that wait for `switchyard rollout resume` before they start',
    }),
    mirror_percent: Type.Number({
      minimum: 0,
      maximum: 100,
      default: 100,
      description:
        "share of the baseline's requests mirrored to the candidate in every step until completion (agreement, score delta, drift)",
    }),
    criteria: RolloutCriteriaSchema,
    notify: Type.Optional(RolloutNotifySchema),
  },
  { additionalProperties: false, description: 'a progressive delivery the gateway runs for this model' },
);

/** The delivery's fields of a model: without a policy, weights change only by edits to the file. */
export const DeliveryModelFields = {
  rollout: Type.Optional(RolloutPolicySchema),
};

export type RolloutStep = Static<typeof RolloutStepSchema>;
export type RolloutCriteria = Static<typeof RolloutCriteriaSchema>;
export type RolloutNotify = Static<typeof RolloutNotifySchema>;
export type RolloutPolicy = Static<typeof RolloutPolicySchema>;
