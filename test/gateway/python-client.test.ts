import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Agent } from 'undici';
import {
  DEMO_KEY,
  fraudGatewayConfig,
  startGateway,
  upstreamHealthy,
  type GatewayUnderTest,
} from '../harness/gateway.js';
import { createClient } from '../harness/http.js';
import type { StartedProcess } from '../harness/process.js';
import { startRuntime } from '../harness/runtime.js';

const run = promisify(execFile);
const EXAMPLE = join(import.meta.dirname, '..', '..', 'docs', 'examples', 'oip_client.py');

/**
 * The README's Python example (docs/examples/oip_client.py, the standard library only) run as a
 * user runs it, against a real gateway in front of a real runtime: health, server metadata,
 * readiness, JSON, binary and gzip inference and the protocol's error string all as it expects.
 */
let runtime: StartedProcess;
let gateway: GatewayUnderTest;
let client: Agent;
const python = await run('python3', ['--version']).then(
  () => true,
  () => false,
);

before(async () => {
  if (!python) return;
  client = createClient(2);
  runtime = await startRuntime();
  try {
    gateway = await startGateway(fraudGatewayConfig([runtime.url]));
  } catch (error) {
    await runtime.stop();
    throw error;
  }
  await upstreamHealthy(client, gateway.url);
});
after(async () => {
  if (!python) return;
  await client.close();
  assert.equal(await gateway.stop(), 0);
  assert.equal(await runtime.stop(), 0);
});

test(
  'the Python example talks to the gateway as the protocol says',
  { skip: !python && 'no python3' },
  async () => {
    const { stdout } = await run('python3', [EXAMPLE, gateway.url, DEMO_KEY, 'fraud'], {
      timeout: 60_000,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      // The script says which step failed on stdout, a Python error on stderr.
      throw new Error(`the example failed: ${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    const seen = JSON.parse(stdout) as {
      extensions: string[];
      json_outputs: Record<string, number[]>;
      binary_outputs: Record<string, number[]>;
      gzip_outputs: Record<string, number[]>;
      error_code: string;
    };
    assert.ok(seen.extensions.includes('binary_tensor_data'));
    assert.deepEqual(Object.keys(seen.binary_outputs).sort(), Object.keys(seen.json_outputs).sort());
    for (const [name, values] of Object.entries(seen.json_outputs)) {
      assert.ok(values.length > 0, name);
      // The same FP32 values in both forms (JSON prints them as the doubles they widen to).
      seen.binary_outputs[name]!.forEach((value, i) => assert.ok(Math.abs(value - values[i]!) < 1e-6, name));
      assert.deepEqual(seen.gzip_outputs[name], values);
    }
    assert.equal(seen.error_code, 'SWY_ERR_MODEL_UNKNOWN');
  },
);
