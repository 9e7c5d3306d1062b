import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseConfigText } from '../config/load.js';
import { editRollout, type RolloutCommand } from './rollout.js';
import { userMoves, type Weighted } from './weights.js';

/** Two variants with users and one at 0 between them, a shadow, comments in the places edits touch. */
const FILE = `upstreams:
  onnx: { endpoints: ['http://127.0.0.1:8001'] }
  gpu: { endpoints: ['http://127.0.0.1:8002'] }
models:
  fraud:
    routing: { salt: s }
    # the variants
    variants:
      - { name: v1, upstream: onnx, model: fraud, version: '1', weight: 90 } # baseline
      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 0 }
      - { name: v5, upstream: gpu, model: fraud-big, version: '5', weight: 10 }
    # the shadows
    shadows:
      - { name: v3, upstream: onnx, model: fraud, version: '3', percent: 10 } # mirrored
    fallback:
      - variant: v2
    budget_ms: 250
`;

function edit(text: string, command: RolloutCommand) {
  return editRollout(text, 'fraud', command, {}, 'gateway.yaml');
}

function edited(text: string, command: RolloutCommand): { text: string; notes: string } {
  const result = edit(text, command);
  assert.ok(result.ok, result.ok ? '' : result.problems.join('\n'));
  assert.ok(result.changed);
  assert.ok(parseConfigText(result.text, {}, 'edited').ok, 'the gateway takes the result');
  return { text: result.text, notes: result.notes.join('\n') };
}

function refusal(text: string, command: RolloutCommand): string {
  const result = edit(text, command);
  assert.equal(result.ok, false, 'expected a refusal');
  return result.ok ? '' : result.problems.join('\n');
}

function fraud(text: string): { variants: (Weighted & Record<string, unknown>)[]; shadows: unknown[] } {
  return (parseDocument(text).toJS() as { models: { fraud: never } }).models.fraud;
}
const weightsOf = (text: string) => fraud(text).variants.map((v) => ({ name: v.name, weight: v.weight }));
const comments = (text: string) => text.split('\n').filter((line) => line.includes('#'));

test('variant add: weight 0 after the last variant (or --after), upstream and model of the one it follows', () => {
  const { text, notes } = edited(FILE, { verb: 'variant-add', name: 'v4' });
  assert.match(
    text,
    /weight: 10 \}\n {6}- \{ name: v4, upstream: gpu, model: fraud-big, version: '4', weight: 0 \}\n {4}# the shadows/,
  );
  assert.deepEqual(userMoves(weightsOf(FILE), weightsOf(text)), []);
  assert.match(notes, /no user changes variant. `set v4=W` gives it users, taken from v5/);
  assert.deepEqual(comments(text), comments(FILE));

  const after = edited(FILE, { verb: 'variant-add', name: 'canary', version: '7', after: 'v1' }).text;
  assert.deepEqual(
    fraud(after).variants.map((v) => `${v.name}:${String(v.upstream)}:${String(v.version)}`),
    ['v1:onnx:1', 'canary:onnx:7', 'v2:onnx:2', 'v5:gpu:5'],
  );
});

test('variant add refuses a name in use, an unknown --after and a version it cannot guess', () => {
  assert.match(refusal(FILE, { verb: 'variant-add', name: 'v2' }), /"v2" is already a variant of fraud/);
  assert.match(
    refusal(FILE, { verb: 'variant-add', name: 'v3' }),
    /"v3" is a shadow of fraud; `switchyard rollout fraud shadow promote v3 \[WEIGHT\]`/,
  );
  assert.match(refusal(FILE, { verb: 'variant-add', name: 'v4', after: 'v9' }), /--after: no variant "v9"/);
  assert.match(refusal(FILE, { verb: 'variant-add', name: 'canary' }), /give --version/);
});

test('variant add then set: the new variant takes its users from the variant before it with users', () => {
  const added = edited(FILE, { verb: 'variant-add', name: 'v4', after: 'v2' }).text;
  const raised = edited(added, { verb: 'set', assignments: [{ name: 'v4', weight: 5 }] });
  assert.deepEqual(userMoves(weightsOf(added), weightsOf(raised.text)), [
    { from: 'v1', to: 'v4', percent: 5 },
  ]);
  const off = edited(raised.text, { verb: 'set', assignments: [{ name: 'v4', weight: 0 }] });
  assert.deepEqual(weightsOf(off.text), weightsOf(added), 'every user back where they were');
  assert.match(off.notes, /users changing variant: 5% v4 → v1/);
});

test('variant remove: only at weight 0 and named by no rollout or fallback; the rest of the file stays', () => {
  assert.match(
    refusal(FILE, { verb: 'variant-remove', name: 'v5' }),
    /v5 has weight 10: its users would have nowhere to go. `switchyard rollout fraud set v5=0` first/,
  );
  assert.match(refusal(FILE, { verb: 'variant-remove', name: 'v2' }), /v2 is a fallback step of fraud/);
  assert.match(
    refusal(FILE, { verb: 'variant-remove', name: 'v3' }),
    /"v3" is a shadow of fraud, not a variant .*`shadow remove v3` removes a shadow/,
  );
  const withPolicy = FILE.replace('      - variant: v2\n', '      - variant: v1\n').replace(
    '    budget_ms: 250\n',
    '    budget_ms: 250\n    rollout:\n      candidate: v2\n      baseline: v1\n      steps: [10, 100]\n      criteria: { error_rate: { max_increase: 0.01 } }\n',
  );
  assert.match(
    refusal(withPolicy, { verb: 'variant-remove', name: 'v2' }),
    /v2 is the candidate of its rollout policy of fraud/,
  );
  const free = FILE.replace('      - variant: v2\n', '      - variant: v1\n');
  const { text } = edited(free, { verb: 'variant-remove', name: 'v2' });
  assert.deepEqual(
    fraud(text).variants.map((v) => v.name),
    ['v1', 'v5'],
  );
  assert.equal(
    text,
    free.replace("      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 0 }\n", ''),
  );
  // The last variant goes too, without touching what follows it.
  const last = edited(edited(free, { verb: 'variant-add', name: 'v6' }).text, {
    verb: 'variant-remove',
    name: 'v6',
  });
  assert.equal(last.text, free);
});

test('shadow promote: the shadow becomes a variant after its donor and takes only the donor’s users', () => {
  const { text, notes } = edited(FILE, { verb: 'shadow-promote', name: 'v3', weight: 5 });
  assert.deepEqual(weightsOf(text), [
    { name: 'v1', weight: 85 },
    { name: 'v3', weight: 5 },
    { name: 'v2', weight: 0 },
    { name: 'v5', weight: 10 },
  ]);
  assert.deepEqual(fraud(text).shadows, []);
  assert.deepEqual(userMoves(weightsOf(FILE), weightsOf(text)), [{ from: 'v1', to: 'v3', percent: 5 }]);
  assert.match(
    notes,
    /shadow v3 \(mirroring 10%\) is now a variant listed after v1, with 5% of users taken from v1/,
  );
  assert.match(notes, /to undo: switchyard rollout fraud variant demote v3 10/);
  assert.match(text, /rollback_weights: \{ v1: 90, v2: 0, v5: 10 \}/);

  const fromV5 = edited(FILE, { verb: 'shadow-promote', name: 'v3', weight: 4, from: 'v5' }).text;
  assert.deepEqual(userMoves(weightsOf(FILE), weightsOf(fromV5)), [{ from: 'v5', to: 'v3', percent: 4 }]);
  assert.match(
    refusal(FILE, { verb: 'shadow-promote', name: 'v3', weight: 20, from: 'v5' }),
    /v5 has only 10 to give/,
  );
  assert.match(
    refusal(FILE, { verb: 'shadow-promote', name: 'v1', weight: 5 }),
    /no shadow "v1" .*v1 is already a variant/,
  );
  assert.match(
    refusal(FILE, { verb: 'promote', variant: 'v3' }),
    /"v3" is a shadow of fraud, not a variant: `switchyard rollout fraud shadow promote v3`/,
  );
  assert.match(
    refusal(FILE, { verb: 'set', assignments: [{ name: 'v3', weight: 5 }] }),
    /"v3" is a shadow of fraud, not a variant: `switchyard rollout fraud shadow promote v3 5`/,
  );
});

test('variant demote undoes shadow promote: the same users on the same variants, the shadow back', () => {
  const promoted = edited(FILE, { verb: 'shadow-promote', name: 'v3', weight: 5 }).text;
  const raised = edited(promoted, { verb: 'set', assignments: [{ name: 'v3', weight: 25 }] }).text;
  const { text, notes } = edited(raised, { verb: 'variant-demote', name: 'v3', percent: 10 });
  assert.deepEqual(weightsOf(text), weightsOf(FILE));
  assert.deepEqual(fraud(text).shadows, fraud(FILE).shadows);
  assert.deepEqual(userMoves(weightsOf(raised), weightsOf(text)), [{ from: 'v3', to: 'v1', percent: 25 }]);
  assert.match(notes, /variant v3 is a shadow again, mirroring 10% of requests/);
  assert.match(notes, /v3 gives 25 back to v1, the variant its users came from/);
  assert.match(
    refusal(FILE, { verb: 'shadow-add', name: 'v5', percent: 5 }),
    /"v5" is already a variant of fraud; `switchyard rollout fraud variant demote v5 5`/,
  );
  assert.match(refusal(FILE, { verb: 'variant-demote', name: 'v2', percent: 5 }), /v2 is a fallback step/);
});

test('rollback after shadow promote, or after a hand edit that adds a variant, restores the recorded weights', () => {
  const promoted = edited(FILE, { verb: 'shadow-promote', name: 'v3', weight: 5 }).text;
  const back = edited(promoted, { verb: 'rollback' });
  assert.deepEqual(weightsOf(back.text), [
    { name: 'v1', weight: 90 },
    { name: 'v3', weight: 0 },
    { name: 'v2', weight: 0 },
    { name: 'v5', weight: 10 },
  ]);
  assert.match(back.notes, /v3 is not in rollback_weights \(added since\): it goes to 0 and stays listed/);

  // By hand: a set, then v4 typed into the list with users of its own.
  const set = edited(FILE, { verb: 'set', assignments: [{ name: 'v5', weight: 20 }] }).text;
  const hand = set.replace(
    'weight: 20 }\n',
    "weight: 15 }\n      - { name: v4, upstream: onnx, model: fraud, version: '4', weight: 5 }\n",
  );
  assert.ok(parseConfigText(hand, {}, 'hand').ok);
  const restored = edited(hand, { verb: 'rollback' }).text;
  assert.deepEqual(
    weightsOf(restored).map((v) => `${v.name}=${v.weight}`),
    ['v1=90', 'v2=0', 'v5=10', 'v4=0'],
  );
});

test('demoting the last variant writes the record and the shadow after the list; CRLF files keep CRLF', () => {
  const { text } = edited(FILE, { verb: 'variant-demote', name: 'v5', percent: 1 });
  assert.ok(
    text.includes(
      "      - { name: v2, upstream: onnx, model: fraud, version: '2', weight: 0 }\n" +
        '    rollback_weights: { v1: 90, v2: 0, v5: 10 } # written by switchyard rollout: the weights before its last change\n' +
        '    # the shadows\n' +
        '    shadows:\n' +
        "      - { name: v3, upstream: onnx, model: fraud, version: '3', percent: 10 } # mirrored\n" +
        "      - { name: v5, upstream: gpu, model: fraud-big, version: '5', percent: 1 }\n" +
        '    fallback:\n',
    ),
    text,
  );
  assert.deepEqual(
    (fraud(text).shadows as { name: string }[]).map((s) => s.name),
    ['v3', 'v5'],
  );
  // v5 was first after v2 (at 0) and v1: its users go to v1, the variant before it with weight.
  assert.deepEqual(weightsOf(text), [
    { name: 'v1', weight: 100 },
    { name: 'v2', weight: 0 },
  ]);

  const crlf = FILE.replace(/\n/g, '\r\n');
  const added = edited(crlf, { verb: 'variant-add', name: 'v4' }).text;
  assert.doesNotMatch(added.replace(/\r\n/g, ''), /\n/, 'every line break stays CRLF');
  assert.equal(edited(added, { verb: 'variant-remove', name: 'v4' }).text, crlf);
});
