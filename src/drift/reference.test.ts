import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfigFile, parseConfigText } from '../config/load.js';
import type { ContractConfig } from '../contract/config.js';
import { MAX_REFERENCE_BYTES, parseDriftReference } from './reference.js';

const CONTRACT: ContractConfig = {
  input: 'x',
  output: 'score',
  features: [
    { name: 'amount', min: 0, max: 1000 },
    { name: 'age', min: 0, max: 100 },
  ],
  decisions: { below: 'approve', thresholds: [{ at: 0.5, decision: 'review' }] },
};

const GOOD = {
  source: 'a test',
  model: 'm',
  features: {
    amount: { edges: [0, 10, 100, 1000], counts: [5, 3, 2] },
    age: { edges: [0, 50, 100], counts: [1, 1] },
  },
  scores: { '1': { edges: [0, 0.5, 1], counts: [9, 1] } },
};

test('a well-formed reference for the contract is read as is', () => {
  const parsed = parseDriftReference(JSON.stringify(GOOD), CONTRACT);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.reference, GOOD);
  assert.ok(Object.isFrozen(parsed.reference!.features.amount!.edges));
});

test('every problem of a reference is reported at its place in the file', () => {
  const broken = structuredClone(GOOD) as Record<string, never> & typeof GOOD;
  (broken.features as Record<string, unknown>).amout = { edges: [0, 1], counts: [1] };
  broken.features.amount.edges = [0, 100, 10, 1000];
  broken.features.age.counts = [1, 1, 1];
  broken.scores['1'].counts = [0, 0];
  assert.deepEqual(parseDriftReference(JSON.stringify(broken), CONTRACT).problems, [
    { path: '/features/amount/edges/2', message: 'edges must ascend: 10 is not above 100' },
    { path: '/features/age/counts', message: '3 counts for 3 edges: needs 2, one per bin' },
    { path: '/features/amout', message: `"amout" is not a feature of the model's contract` },
    { path: '/scores/1/counts', message: 'every count is 0: nothing to compare with' },
  ]);
});

test('a reference that is not JSON, or not shaped like one, says why', () => {
  const notJson = parseDriftReference('{"model": ', CONTRACT).problems;
  assert.equal(notJson.length, 1);
  assert.match(notJson[0]!.message, /^not JSON: /);

  const shape = parseDriftReference(
    JSON.stringify({ model: 'm', features: { amount: { edges: [0], counts: [-1] } }, scores: {}, extra: 1 }),
    CONTRACT,
  ).problems.map((p) => p.path);
  assert.ok(shape.includes('/features/amount/edges'), shape.join(' '));
  assert.ok(shape.includes('/features/amount/counts/0'), shape.join(' '));
  assert.ok(shape.includes('/extra'), shape.join(' '));

  const infinite = parseDriftReference(
    '{"model":"m","features":{"amount":{"edges":[0,1e999],"counts":[1]}},"scores":{}}',
    CONTRACT,
  ).problems;
  assert.deepEqual(infinite, [{ path: '/features/amount/edges/1', message: 'expected number' }]);
});

/** A gateway config in `dir` whose model m measures drift against `reference`. */
async function configWith(
  dir: string,
  drift: object,
  contract: ContractConfig | undefined = CONTRACT,
): Promise<string> {
  const path = join(dir, 'gateway.yaml');
  const config = {
    upstreams: { u: { endpoints: ['http://127.0.0.1:1'] } },
    models: {
      m: {
        routing: { salt: 's' },
        variants: [{ name: 'v1', upstream: 'u', model: 'm', version: '1', weight: 100 }],
        ...(contract ? { contract } : {}),
        drift,
      },
    },
  };
  await writeFile(path, stringify(config));
  return path;
}

test('the config loads its reference relative to its own directory, and refuses a broken one at its path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-drift-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'reference.json'), JSON.stringify(GOOD));

  const good = await loadConfigFile(await configWith(dir, { reference: 'reference.json' }));
  assert.ok(good.ok, JSON.stringify(!good.ok && good.problems));
  assert.deepEqual(good.snapshot.driftReferences?.get('m'), GOOD);

  const at = '/models/m/drift/reference';
  const missing = await loadConfigFile(await configWith(dir, { reference: 'nowhere.json' }));
  assert.ok(!missing.ok);
  assert.equal(missing.problems.length, 1);
  assert.equal(missing.problems[0]!.path, at);
  assert.match(missing.problems[0]!.message, /^nowhere\.json: cannot read it: ENOENT/);

  await writeFile(
    join(dir, 'bad.json'),
    JSON.stringify({ ...GOOD, features: { weight: GOOD.features.age } }),
  );
  const bad = await loadConfigFile(await configWith(dir, { reference: 'bad.json' }));
  assert.deepEqual(!bad.ok && bad.problems, [
    { path: at, message: `bad.json: /features/weight: "weight" is not a feature of the model's contract` },
  ]);

  await writeFile(join(dir, 'huge.json'), ' '.repeat(MAX_REFERENCE_BYTES + 1));
  const huge = await loadConfigFile(await configWith(dir, { reference: 'huge.json' }));
  assert.deepEqual(!huge.ok && huge.problems, [
    {
      path: at,
      message: `huge.json: ${MAX_REFERENCE_BYTES + 1} bytes, more than a reference file's ${MAX_REFERENCE_BYTES}`,
    },
  ]);

  const directory = await loadConfigFile(await configWith(dir, { reference: '.' }));
  assert.deepEqual(!directory.ok && directory.problems, [{ path: at, message: '.: not a file' }]);

  // Turned off, the file is not read at all.
  const off = await loadConfigFile(await configWith(dir, { enabled: false, reference: 'nowhere.json' }));
  assert.ok(off.ok);
});

test('a drift section needs a contract; its window is bounded', () => {
  const config = (drift: object, contract = true) =>
    stringify({
      upstreams: { u: { endpoints: ['http://127.0.0.1:1'] } },
      models: {
        m: {
          routing: { salt: 's' },
          variants: [{ name: 'v1', upstream: 'u', model: 'm', version: '1', weight: 100 }],
          ...(contract ? { contract: CONTRACT } : {}),
          drift,
        },
      },
    });
  const problems = (text: string) => {
    const result = parseConfigText(text, {}, 'test.yaml');
    return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
  };
  assert.deepEqual(problems(config({ window_s: 5 }, false)), [
    '/models/m/drift: needs a contract on this model: drift is measured on the score and features the contract names',
  ]);
  assert.deepEqual(problems(config({ enabled: false }, false)), []);
  assert.deepEqual(problems(config({ window_s: 86401, min_samples: 0 })), [
    '/models/m/drift/min_samples: expected integer to be greater or equal to 1',
    '/models/m/drift/window_s: expected number to be less or equal to 86400',
  ]);
  const defaults = parseConfigText(config({}), {}, 'test.yaml');
  assert.ok(defaults.ok);
  assert.deepEqual(defaults.snapshot.config.models.m!.drift, {
    enabled: true,
    window_s: 60,
    min_samples: 500,
  });
});
