import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { unifiedDiff } from '../../src/rollout/diff.js';
import { editRollout, type RolloutCommand, type RolloutEdit } from '../../src/rollout/rollout.js';
import { planSet, userMoves } from '../../src/rollout/weights.js';
import { PROJECT_ROOT } from '../harness/process.js';

const PRODUCTION = readFileSync(`${PROJECT_ROOT}/config/gateway.yaml`, 'utf8');
const CLUSTER = readFileSync(`${PROJECT_ROOT}/k8s/base/gateway.yaml`, 'utf8');

/** A small config with three variants, comments in awkward places, and a block-style variant. */
const THREE = `# top comment
upstreams:
  onnx: { endpoints: ['http://127.0.0.1:8001'] }
models:
  fraud:
    routing: { salt: s } # routing comment
    # comment before variants
    variants:
      - { name: v1, upstream: onnx, model: fraud, version: '1', weight: 70 } # v1 comment
      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 20 }
      - name: v3
        upstream: onnx
        model: fraud
        version: '3'
        weight: 10 # v3 comment

    # comment before budget
    budget_ms: 250
`;

function run(text: string, command: RolloutCommand, model = 'fraud'): RolloutEdit {
  return editRollout(text, model, command, {}, 'gateway.yaml');
}

function edited(text: string, command: RolloutCommand, model = 'fraud'): string {
  const result = run(text, command, model);
  assert.ok(result.ok, `refused: ${result.ok ? '' : result.problems.join('\n')}`);
  assert.ok(result.changed, 'expected a change');
  return result.text;
}

function refusal(text: string, command: RolloutCommand): string {
  const result = run(text, command);
  assert.equal(result.ok, false, 'expected a refusal');
  return result.ok ? '' : result.problems.join('\n');
}

function weights(text: string, model = 'fraud'): Record<string, number> {
  const data = parseDocument(text).toJS() as {
    models: Record<string, { variants: { name: string; weight: number }[] }>;
  };
  return Object.fromEntries(data.models[model]!.variants.map((v) => [v.name, v.weight]));
}

function record(text: string): unknown {
  return (parseDocument(text).toJS() as { models: Record<string, Record<string, unknown>> }).models.fraud!
    .rollback_weights;
}

const commentLines = (text: string) => text.split('\n').filter((line) => line.includes('#'));
/** Lines of `after` that are not in `before`, and the reverse. */
function changedLines(before: string, after: string): { added: string[]; removed: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  return { added: b.filter((line) => !a.includes(line)), removed: a.filter((line) => !b.includes(line)) };
}

test('set v2=25 on the production example changes two weights, records the old ones, keeps every other byte', () => {
  const text = edited(PRODUCTION, { verb: 'set', assignments: [{ name: 'v2', weight: 25 }] });
  assert.deepEqual(weights(text), { v1: 75, v2: 25 });
  assert.deepEqual(record(text), { v1: 90, v2: 10 });
  const { added, removed } = changedLines(PRODUCTION, text);
  assert.deepEqual(removed, [
    "      - { name: v1, upstream: onnx, model: fraud, version: '1', weight: 90 }",
    "      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 10 }",
  ]);
  assert.equal(added.length, 3);
  assert.match(added[2]!, /^ {4}rollback_weights: \{ v1: 90, v2: 10 \} # /);
  // Every comment survives, in order; the new pair sits right after variants.
  assert.deepEqual(
    commentLines(PRODUCTION),
    commentLines(text).filter((line) => !line.includes('rollback_weights')),
  );
  const keys = Object.keys((parseDocument(text).toJS() as { models: { fraud: object } }).models.fraud);
  const original = Object.keys(
    (parseDocument(PRODUCTION).toJS() as { models: { fraud: object } }).models.fraud,
  );
  assert.deepEqual(keys, [
    ...original.slice(0, original.indexOf('variants') + 1),
    'rollback_weights',
    ...original.slice(original.indexOf('variants') + 1),
  ]);
  // And the gateway takes it.
  assert.ok(parseConfigText(text, {}, 'edited').ok);
});

test('a single assignment trades with the variant listed just before it, or just after when it is first', () => {
  const v3 = edited(THREE, { verb: 'set', assignments: [{ name: 'v3', weight: 25 }] });
  assert.deepEqual(weights(v3), { v1: 70, v2: 5, v3: 25 });
  const v1 = edited(THREE, { verb: 'set', assignments: [{ name: 'v1', weight: 80 }] });
  assert.deepEqual(weights(v1), { v1: 80, v2: 10, v3: 10 });
  const back = edited(THREE, { verb: 'set', assignments: [{ name: 'v2', weight: 5 }] });
  assert.deepEqual(weights(back), { v1: 85, v2: 5, v3: 10 });
  // The block-style variant's comment and the blank line before `budget_ms` are still there.
  assert.match(
    v3,
    / {8}weight: 25 # v3 comment\n {4}rollback_weights: [^\n]*\n\n {4}# comment before budget\n/,
  );
});

test('only users of the two neighbours change variant, and only in the direction of the move', () => {
  const before = [
    { name: 'v1', weight: 70 },
    { name: 'v2', weight: 20 },
    { name: 'v3', weight: 10 },
  ];
  const plan = planSet('fraud', before, [{ name: 'v3', weight: 25 }]);
  assert.ok(plan.ok);
  assert.deepEqual(userMoves(before, plan.weights), [{ from: 'v2', to: 'v3', percent: 15 }]);
});

test('a single assignment the neighbour cannot pay for is refused with a full assignment to use instead', () => {
  const reason = refusal(THREE, { verb: 'set', assignments: [{ name: 'v3', weight: 40 }] });
  assert.match(reason, /v3 needs 30 more, but v2 \(listed just before it\) has only 20/);
  assert.match(reason, /switchyard rollout fraud set v1=60 v2=0 v3=40/);
  // The suggestion is itself accepted.
  const text = edited(THREE, {
    verb: 'set',
    assignments: [
      { name: 'v1', weight: 60 },
      { name: 'v2', weight: 0 },
      { name: 'v3', weight: 40 },
    ],
  });
  assert.deepEqual(weights(text), { v1: 60, v2: 0, v3: 40 });
});

test('several assignments must leave weights summing to 100; unknown and repeated names are refused', () => {
  assert.match(
    refusal(THREE, {
      verb: 'set',
      assignments: [
        { name: 'v1', weight: 70 },
        { name: 'v2', weight: 30 },
      ],
    }),
    /sum to 110 \(v3 keeps 10\); they must sum to 100/,
  );
  assert.match(refusal(THREE, { verb: 'set', assignments: [{ name: 'v9', weight: 5 }] }), /no variant "v9"/);
  assert.match(
    refusal(THREE, {
      verb: 'set',
      assignments: [
        { name: 'v1', weight: 5 },
        { name: 'v1', weight: 6 },
      ],
    }),
    /assigned twice/,
  );
  const same = run(THREE, { verb: 'set', assignments: [{ name: 'v2', weight: 20 }] });
  assert.deepEqual(same, { ok: true, changed: false, notes: ['no change'] });
});

test('promote then rollback gives back the original file byte for byte', () => {
  const promoted = edited(THREE, { verb: 'promote', variant: 'v2' });
  assert.deepEqual(weights(promoted), { v1: 0, v2: 100, v3: 0 });
  assert.deepEqual(record(promoted), { v1: 70, v2: 20, v3: 10 });
  const rolledBack = edited(promoted, { verb: 'rollback' });
  assert.equal(rolledBack, THREE);

  const production = edited(edited(PRODUCTION, { verb: 'promote', variant: 'v2' }), { verb: 'rollback' });
  assert.equal(production, PRODUCTION);
});

test('each set records the weights before it, so rollback undoes the last step and then has nothing left', () => {
  const first = edited(THREE, { verb: 'set', assignments: [{ name: 'v2', weight: 25 }] });
  const second = edited(first, { verb: 'set', assignments: [{ name: 'v2', weight: 40 }] });
  assert.deepEqual(record(second), { v1: 65, v2: 25, v3: 10 });
  const back = edited(second, { verb: 'rollback' });
  assert.deepEqual(weights(back), { v1: 65, v2: 25, v3: 10 });
  assert.equal(record(back), undefined);
  assert.match(refusal(back, { verb: 'rollback' }), /no rollback_weights: nothing to roll back to/);
});

test('rollback refuses a record that gives users to a variant no longer listed', () => {
  const promoted = edited(THREE, { verb: 'promote', variant: 'v1' });
  const renamed = promoted.replace(
    'rollback_weights: { v1: 70, v2: 20, v3: 10 }',
    'rollback_weights: { v1: 70, v2: 20, v9: 10 }',
  );
  assert.notEqual(renamed, promoted);
  assert.match(
    refusal(renamed, { verb: 'rollback' }),
    /rollback_weights give users to v9 at 10, no longer a variant/,
  );
});

test('shadows: add to a list, update in place, remove, and create the list when there is none', () => {
  const added = edited(PRODUCTION, { verb: 'shadow-add', name: 'v4', percent: 5 });
  assert.match(
    added,
    /- \{ name: v3, upstream: onnx, model: fraud, version: '3', percent: 10 \}\n {6}- \{ name: v4, upstream: onnx, model: fraud, version: '4', percent: 5 \}\n/,
  );
  const idle = edited(added, { verb: 'shadow-add', name: 'v3', percent: 0 });
  assert.match(idle, /version: '3', percent: 0 \}/);
  const removed = edited(idle, { verb: 'shadow-remove', name: 'v3' });
  assert.doesNotMatch(removed, /name: v3, upstream/);
  const none = edited(removed, { verb: 'shadow-remove', name: 'v4' });
  assert.match(none, /\n {4}shadows: \[\]\n/);
  assert.deepEqual(commentLines(none), commentLines(PRODUCTION));

  const created = edited(THREE, {
    verb: 'shadow-add',
    name: 'v7',
    percent: 1,
    version: '2',
    upstream: 'onnx',
  });
  assert.match(
    created,
    / {8}weight: 10 # v3 comment\n {4}shadows:\n {6}- \{ name: v7, upstream: onnx, model: fraud, version: '2', percent: 1 \}\n/,
  );
  assert.ok(parseConfigText(created, {}, 'edited').ok);
});

test("shadow edits the gateway would refuse are refused: a variant's name, an unknown upstream", () => {
  assert.match(
    refusal(PRODUCTION, { verb: 'shadow-add', name: 'v2', percent: 5 }),
    /"v2" is already a variant/,
  );
  assert.match(
    refusal(PRODUCTION, { verb: 'shadow-add', name: 'v4', percent: 5, upstream: 'nope' }),
    /unknown upstream "nope"/,
  );
  assert.match(
    refusal(PRODUCTION, { verb: 'shadow-remove', name: 'v9' }),
    /no shadow "v9" in fraud \(shadows: v3\)/,
  );
  assert.match(refusal(PRODUCTION, { verb: 'shadow-add', name: 'canary', percent: 5 }), /give --version/);
});

test('the cluster file validates except for the ${VAR}s only the pod has, and says so', () => {
  const result = run(CLUSTER, { verb: 'set', assignments: [{ name: 'v2', weight: 25 }] });
  assert.ok(result.ok && result.changed);
  assert.equal(result.hash, undefined, 'no settings hash: the key digests come from the environment');
  assert.match(result.fileHash, /^[0-9a-f]{16}$/, 'the file hash needs no environment');
  assert.match(result.notes.join('\n'), /environment variable SWITCHYARD_KEY_SHA256_CHECKOUT is not set/);
  const withEnv = editRollout(
    CLUSTER,
    'fraud',
    { verb: 'set', assignments: [{ name: 'v2', weight: 25 }] },
    { SWITCHYARD_KEY_SHA256_CHECKOUT: 'a'.repeat(64), SWITCHYARD_KEY_SHA256_ML_PLATFORM: 'b'.repeat(64) },
    'gateway.yaml',
  );
  assert.ok(withEnv.ok && withEnv.changed && typeof withEnv.hash === 'string');
  assert.equal(withEnv.fileHash, result.fileHash, 'the same file, whatever the environment');
});

test('unknown models, flow-style models and CRLF files', () => {
  assert.match(
    refusal(THREE.replace('fraud:', 'other:'), { verb: 'rollback' }),
    /no model "fraud" .*models: other/,
  );
  const flow = `upstreams: { onnx: { endpoints: ['http://127.0.0.1:8001'] } }\nmodels:\n  fraud: { routing: { salt: s }, variants: [{ name: v1, upstream: onnx, model: m, version: '1', weight: 100 }] }\n`;
  assert.match(
    refusal(flow, { verb: 'promote', variant: 'v1' }),
    /flow \} mapping; rollout edits block mappings/,
  );
  const crlf = THREE.replace(/\n/g, '\r\n');
  const text = edited(crlf, { verb: 'set', assignments: [{ name: 'v3', weight: 25 }] });
  assert.doesNotMatch(text.replace(/\r\n/g, ''), /\n/, 'every line break stays CRLF');
  assert.deepEqual(weights(text), { v1: 70, v2: 5, v3: 25 });
});

test('the diff shows the changed lines with two lines of context; changes that close share a hunk', () => {
  const text = edited(THREE, { verb: 'set', assignments: [{ name: 'v3', weight: 25 }] });
  assert.equal(
    unifiedDiff(THREE, text, 'gateway.yaml'),
    [
      '--- gateway.yaml',
      '+++ gateway.yaml',
      '@@ -8,10 +8,11 @@',
      '     variants:',
      "       - { name: v1, upstream: onnx, model: fraud, version: '1', weight: 70 } # v1 comment",
      "-      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 20 }",
      "+      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 5 }",
      '       - name: v3',
      '         upstream: onnx',
      '         model: fraud',
      "         version: '3'",
      '-        weight: 10 # v3 comment',
      '+        weight: 25 # v3 comment',
      '+    rollback_weights: { v1: 70, v2: 20, v3: 10 } # written by switchyard rollout: the weights before its last change',
      ' ',
      '     # comment before budget',
      '',
    ].join('\n'),
  );
  assert.equal(unifiedDiff(THREE, THREE, 'x'), '');
  // Far apart: two hunks, each with its own line numbers.
  const long = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join('\n') + '\n';
  const changed = long.replace('b\n', 'B\n').replace('i\n', 'I\nI2\n');
  assert.equal(
    unifiedDiff(long, changed, 'f'),
    [
      '--- f',
      '+++ f',
      '@@ -1,4 +1,4 @@',
      ' a',
      '-b',
      '+B',
      ' c',
      ' d',
      '@@ -7,4 +7,5 @@',
      ' g',
      ' h',
      '-i',
      '+I',
      '+I2',
      ' j',
      '',
    ].join('\n'),
  );
});

test('promoting the candidate of a rollout policy removes the policy in the same edit', () => {
  const withPolicy = THREE.replace(
    '      - name: v3',
    `      - { name: v4, upstream: onnx, model: fraud, version: '4', weight: 0 }
      - name: v3`,
  ).replace(
    '    # comment before budget',
    `    rollout:
      candidate: v4
      baseline: v1
      steps: [10, 100] # the steps
      criteria:
        error_rate: { max_increase: 0.01 }
    # comment before budget`,
  );
  assert.ok(parseConfigText(withPolicy, {}, 'gateway.yaml').ok, 'the starting file is valid');
  const promoted = run(withPolicy, { verb: 'promote', variant: 'v4' });
  assert.ok(promoted.ok && promoted.changed, promoted.ok ? '' : promoted.problems.join('\n'));
  assert.deepEqual(weights(promoted.text), { v1: 0, v2: 0, v4: 100, v3: 0 });
  const model = (parseDocument(promoted.text).toJS() as { models: { fraud: Record<string, unknown> } }).models
    .fraud;
  assert.equal(model.rollout, undefined);
  assert.match(promoted.notes.join('\n'), /rollout policy of v4 is removed/);
  assert.match(
    promoted.text,
    /# comment before budget\n {4}budget_ms: 250/,
    'the rest of the file is untouched',
  );
  // Promoting another variant keeps the policy (and is refused if that breaks it).
  assert.match(refusal(withPolicy, { verb: 'promote', variant: 'v2' }), /rollout/);
});
