import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse, parseDocument, stringify } from 'yaml';
import { parseConfigText, type LoadResult } from '../config/load.js';
import type { RolloutPolicy } from './config.js';

type Json = Record<string, unknown>;

/** A valid model with a rollout policy; each broken case below changes one thing in a fresh copy. */
function baseConfig(): { upstreams: Json; models: { fraud: Json & { rollout: Json } } } {
  return {
    upstreams: { onnx: { endpoints: ['http://127.0.0.1:8001'] } },
    models: {
      fraud: {
        routing: { salt: 'fraud-test' },
        variants: [
          { name: 'v1', upstream: 'onnx', model: 'fraud', version: '1', weight: 90 },
          { name: 'v2', upstream: 'onnx', model: 'fraud', version: '2', weight: 10 },
          { name: 'v3', upstream: 'onnx', model: 'fraud', version: '3', weight: 0 },
        ],
        shadows: [{ name: 'v4', upstream: 'onnx', model: 'fraud', version: '4', percent: 5 }],
        contract: {
          input: 'features',
          output: 'score',
          features: [{ name: 'amount' }],
          decisions: {
            below: 'approve',
            thresholds: [
              { at: 0.5, decision: 'review' },
              { at: 0.85, decision: 'decline' },
            ],
          },
        },
        rollout: {
          candidate: 'v3',
          baseline: 'v1',
          steps: ['shadow', 5, 25, 50, 100],
          pause_before: [50],
          criteria: {
            error_rate: { max_increase: 0.005 },
            latency_p99: { max_ratio: 1.2 },
            agreement: { min: 0.97 },
            decision_rate: { decision: 'decline', max_change: 0.02 },
          },
        },
      },
    },
  };
}

function load(config: unknown): LoadResult {
  return parseConfigText(stringify(config), {}, 'test.yaml');
}

function policyOf(result: LoadResult): RolloutPolicy {
  assert.ok(result.ok, `expected a valid config, got ${JSON.stringify(!result.ok && result.problems)}`);
  const policy = result.snapshot.config.models['fraud']?.rollout;
  assert.ok(policy, 'the model keeps its rollout policy');
  return policy;
}

/** The config is refused with exactly these problems: [path, a fragment of its message]. */
function assertProblems(config: unknown, expected: [string, string | RegExp][]): void {
  const result = load(config);
  assert.equal(result.ok, false, 'expected the config to be refused');
  const problems = result.ok ? [] : result.problems;
  assert.deepEqual(
    problems.map((p) => p.path),
    expected.map(([path]) => path),
    JSON.stringify(problems),
  );
  expected.forEach(([, message], i) => {
    const actual = problems[i]!.message;
    if (typeof message === 'string') assert.ok(actual.includes(message), `"${actual}" lacks "${message}"`);
    else assert.match(actual, message);
  });
}

const ROLLOUT = '/models/fraud/rollout';

describe('a rollout policy', () => {
  test('loads with its defaults applied', () => {
    assert.deepEqual(policyOf(load(baseConfig())), {
      candidate: 'v3',
      baseline: 'v1',
      steps: ['shadow', 5, 25, 50, 100],
      interval_s: 60,
      min_samples: 500,
      failure_limit: 3,
      pause_before: [50],
      mirror_percent: 100,
      criteria: {
        error_rate: { max_increase: 0.005 },
        latency_p99: { max_ratio: 1.2 },
        agreement: { min: 0.97 },
        decision_rate: { decision: 'decline', max_change: 0.02 },
      },
    });
  });

  test('fills in the defaults of notify, and keeps every field it is given', () => {
    const config = baseConfig();
    const rollout = config.models.fraud.rollout;
    Object.assign(rollout, {
      steps: [10, 100],
      interval_s: 0.05,
      min_samples: 1,
      failure_limit: 1,
      pause_before: [],
      mirror_percent: 0,
      criteria: {
        fallback_rate: { max_increase: 0.01 },
        score_delta: { max_mean_abs: 0.05 },
        drift_psi: { max: 0.2 },
      },
      notify: { url: 'https://hooks.example/rollouts' },
    });
    const policy = policyOf(load(config));
    assert.deepEqual(policy.notify, { url: 'https://hooks.example/rollouts', timeout_ms: 2000, retries: 3 });
    assert.deepEqual(policy.steps, [10, 100]);
    assert.equal(policy.interval_s, 0.05);
    assert.equal(policy.mirror_percent, 0);
    assert.deepEqual(Object.keys(policy.criteria), ['fallback_rate', 'score_delta', 'drift_psi']);
  });

  test('is optional', () => {
    const config = baseConfig();
    delete (config.models.fraud as Json).rollout;
    const result = load(config);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    assert.equal(result.snapshot.config.models['fraud']?.rollout, undefined);
  });
});

test("config/gateway.yaml's commented-out policy is valid once uncommented", () => {
  const text = readFileSync(new URL('../../config/gateway.yaml', import.meta.url), 'utf8');
  const lines = text.split('\n');
  const start = lines.indexOf('    # rollout:');
  assert.ok(start > 0, 'the example policy is in the fraud model');
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('    #   '));
  const policy = parse(
    lines
      .slice(start, end)
      .map((line) => line.slice('    # '.length))
      .join('\n'),
  ) as Json;
  const variant = /^ {4}# {3}- (\{ name: v4.*\})$/m.exec(text)?.[1];
  assert.ok(variant, 'the example names the variant to add');

  const doc = parseDocument(text);
  doc.addIn(['models', 'fraud', 'variants'], parse(variant));
  doc.setIn(['models', 'fraud', 'rollout'], policy.rollout);
  const rollout = policyOf(parseConfigText(doc.toString(), {}, 'gateway.yaml'));
  assert.equal(rollout.candidate, 'v4');
  assert.ok(rollout.notify && Object.keys(rollout.criteria).length === 7, JSON.stringify(rollout));
});

describe('the schema of a rollout policy refuses', () => {
  test('a step outside (0, 100], and an interval under 0.05 s', () => {
    const config = baseConfig();
    Object.assign(config.models.fraud.rollout, { steps: [0, 50, 150], pause_before: [], interval_s: 0.01 });
    assertProblems(config, [
      [`${ROLLOUT}/interval_s`, 'greater or equal to 0.05'],
      [`${ROLLOUT}/steps/0`, "expected 'shadow' or a percent in (0, 100]"],
      [`${ROLLOUT}/steps/2`, "expected 'shadow' or a percent in (0, 100]"],
    ]);
  });

  test('a notify URL that is not http(s), and too many retries', () => {
    const config = baseConfig();
    config.models.fraud.rollout.notify = { url: 'ftp://hooks.example', retries: 11 };
    assertProblems(config, [
      [`${ROLLOUT}/notify/retries`, 'less or equal to 10'],
      [`${ROLLOUT}/notify/url`, 'expected an http:// or https:// URL'],
    ]);
  });

  test('an unknown check, with a suggestion', () => {
    const config = baseConfig();
    config.models.fraud.rollout.criteria = { error_rate: { max_increase: 0.005 }, agreemnt: { min: 0.9 } };
    assertProblems(config, [[`${ROLLOUT}/criteria/agreemnt`, 'did you mean "agreement"?']]);
  });
});

describe('the rules of a rollout policy', () => {
  test('the candidate is a variant of this model', () => {
    const config = baseConfig();
    config.models.fraud.rollout.candidate = 'v9';
    assertProblems(config, [[`${ROLLOUT}/candidate`, 'unknown variant "v9" (variants: v1, v2, v3)']]);
  });

  test('the baseline is a variant of this model', () => {
    const config = baseConfig();
    config.models.fraud.rollout.baseline = 'v9';
    assertProblems(config, [[`${ROLLOUT}/baseline`, 'unknown variant "v9"']]);
  });

  test('candidate and baseline differ', () => {
    const config = baseConfig();
    config.models.fraud.rollout.baseline = 'v3';
    assertProblems(config, [[`${ROLLOUT}/baseline`, 'must differ from the candidate']]);
  });

  test("the candidate's weight in the file is 0", () => {
    const config = baseConfig();
    config.models.fraud.rollout.candidate = 'v2';
    assertProblems(config, [[`${ROLLOUT}/candidate`, '"v2" has weight 10']]);
  });

  test("the baseline's weight is above 0", () => {
    const config = baseConfig();
    const variants = config.models.fraud.variants as Json[];
    variants[0]!.weight = 100;
    variants[1]!.weight = 0;
    config.models.fraud.rollout.baseline = 'v2';
    assertProblems(config, [[`${ROLLOUT}/baseline`, '"v2" has weight 0, so it has no users']]);
  });

  test("'shadow' is only the first step", () => {
    const config = baseConfig();
    config.models.fraud.rollout.steps = [5, 'shadow', 50, 100];
    assertProblems(config, [[`${ROLLOUT}/steps/1`, "'shadow' can only be the first step"]]);
  });

  test('numeric steps ascend strictly', () => {
    const config = baseConfig();
    config.models.fraud.rollout.steps = ['shadow', 50, 25, 100];
    assertProblems(config, [[`${ROLLOUT}/steps/2`, 'steps must ascend: 25 is not above the previous 50']]);
  });

  test('every pause_before value is a numeric step', () => {
    const config = baseConfig();
    config.models.fraud.rollout.pause_before = [50, 30];
    assertProblems(config, [[`${ROLLOUT}/pause_before/1`, '30 is not one of the steps (5, 25, 50, 100)']]);
  });

  test('agreement, score_delta, drift_psi and decision_rate need a contract', () => {
    const config = baseConfig();
    delete config.models.fraud.contract;
    config.models.fraud.rollout.criteria = {
      error_rate: { max_increase: 0.005 },
      agreement: { min: 0.97 },
      score_delta: { max_mean_abs: 0.05 },
      drift_psi: { max: 0.2 },
      decision_rate: { decision: 'decline', max_change: 0.02 },
    };
    assertProblems(config, [
      [`${ROLLOUT}/criteria/agreement`, 'needs a contract on this model'],
      [`${ROLLOUT}/criteria/decision_rate`, 'needs a contract on this model'],
      [`${ROLLOUT}/criteria/drift_psi`, 'needs a contract on this model'],
      [`${ROLLOUT}/criteria/score_delta`, 'needs a contract on this model'],
    ]);
  });

  test("decision_rate names one of the contract's decisions", () => {
    const config = baseConfig();
    config.models.fraud.rollout.criteria = { decision_rate: { decision: 'deny', max_change: 0.02 } };
    assertProblems(config, [
      [
        `${ROLLOUT}/criteria/decision_rate/decision`,
        `unknown decision "deny" (the contract's decisions: approve, review, decline)`,
      ],
    ]);
  });

  test('the candidate is not a shadow', () => {
    const config = baseConfig();
    config.models.fraud.rollout.candidate = 'v4';
    assertProblems(config, [[`${ROLLOUT}/candidate`, '"v4" is a shadow of this model, not a variant']]);
  });

  test("the candidate's name is not also a shadow's", () => {
    const config = baseConfig();
    (config.models.fraud.shadows as Json[])[0]!.name = 'v3';
    assertProblems(config, [
      [`${ROLLOUT}/candidate`, '"v3" is also the name of a shadow of this model'],
      // The shadows' own rule says the same from its side.
      ['/models/fraud/shadows/0/name', '"v3" is already a variant of this model'],
    ]);
  });

  test('criteria set at least one check', () => {
    const config = baseConfig();
    config.models.fraud.rollout.criteria = {};
    assertProblems(config, [[`${ROLLOUT}/criteria`, 'set at least one check']]);
  });
});
