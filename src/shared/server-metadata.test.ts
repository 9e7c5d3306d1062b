import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SWITCHYARD_VERSION, serverMetadata } from './server-metadata.js';

test('server metadata reports the version package.json states', async () => {
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(SWITCHYARD_VERSION, manifest.version);
  assert.equal(serverMetadata('x').version, manifest.version);
});
