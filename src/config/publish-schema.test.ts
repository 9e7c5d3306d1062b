import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderJsonSchema } from './publish-schema.js';

test('config/gateway.schema.json is up to date with the TypeBox schema', () => {
  const published = readFileSync(new URL('../../config/gateway.schema.json', import.meta.url), 'utf8');
  assert.ok(
    published === renderJsonSchema(),
    'config/gateway.schema.json is stale: run `npx tsx src/config/publish-schema.ts` and commit the result',
  );
});

test('the published schema is draft-07 and lets defaulted properties be left out', () => {
  const schema = JSON.parse(renderJsonSchema()) as {
    $schema: string;
    required: string[];
    properties: { models: { patternProperties: Record<string, { required: string[] }> } };
  };
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.deepEqual(schema.required, ['upstreams', 'models']);
  const [model] = Object.values(schema.properties.models.patternProperties);
  assert.deepEqual(model?.required, ['routing', 'variants']);
});
