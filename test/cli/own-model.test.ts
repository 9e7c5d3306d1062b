import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { parse as parseYaml } from 'yaml';
import { AUTH } from '../harness/gateway.js';
import { createClient, getJson, postJson } from '../harness/http.js';
import { TYPES_MODEL_DATATYPES, writeTypesModel } from '../harness/models.js';
import { PROJECT_ROOT, startSwitchyard, waitFor } from '../harness/process.js';
import { runCli } from '../telemetry/prediction-log-harness.js';

const GUIDE = join(PROJECT_ROOT, 'docs', 'own-model.md');
const lower = (d: string) => d.toLowerCase();

/** The guide's gateway config: the yaml block after its marker, as the reader copies it. */
async function guideGatewayConfig(): Promise<string> {
  const guide = await readFile(GUIDE, 'utf8');
  const marker = guide.indexOf('<!-- own-model: gateway config');
  assert.ok(marker >= 0, 'the guide marks its gateway config');
  const block = /```yaml\n([\s\S]*?)```/.exec(guide.slice(marker));
  assert.ok(block, 'a yaml block follows the marker');
  return block[1]!;
}

/** An ONNX file on its own, as a user has one: the repository's `types` test model, outside any repository. */
async function onnxFile(dir: string): Promise<string> {
  const scratch = join(dir, 'scratch');
  await writeTypesModel(scratch);
  return join(scratch, 'types', '1', 'model.onnx');
}

test('docs/own-model.md walked through: scaffold, check, hash, serve with switchyard dev, route a request', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-own-model-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const guide = await readFile(GUIDE, 'utf8');
  const file = await onnxFile(dir);
  const repository = join(dir, 'models');

  // 1. model init, as the guide writes it.
  assert.ok(guide.includes('npx switchyard model init models churn --onnx churn.onnx'));
  const init = await runCli(['model', 'init', repository, 'churn', '--onnx', file]);
  assert.equal(init.code, 0, init.stderr);
  const bytes = await readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  assert.deepEqual(await readFile(join(repository, 'churn', '1', 'model.onnx')), bytes);
  const config = parseYaml(await readFile(join(repository, 'churn', 'config.yaml'), 'utf8')) as {
    name: string;
    max_batch_size: number;
    inputs: { name: string; datatype: string; dims: number[] }[];
    outputs: { name: string; datatype: string; dims: number[] }[];
    versions: Record<string, { sha256: string }>;
  };
  // Read from the file: the types model has in_<type> and out_<type>, [batch, 2] each.
  assert.equal(config.name, 'churn');
  assert.equal(config.max_batch_size, 64, 'a free first dimension: batched');
  assert.deepEqual(
    config.inputs,
    TYPES_MODEL_DATATYPES.map((d) => ({ name: `in_${lower(d)}`, datatype: d, dims: [2] })),
  );
  assert.deepEqual(
    config.outputs,
    TYPES_MODEL_DATATYPES.map((d) => ({ name: `out_${lower(d)}`, datatype: d, dims: [2] })),
  );
  assert.deepEqual(config.versions, { '1': { sha256 } });

  // 2. model hash prints what the config holds.
  const hash = await runCli(['model', 'hash', join(repository, 'churn', '1', 'model.onnx')]);
  assert.equal(hash.code, 0, hash.stderr);
  assert.equal(hash.stdout, `${sha256}  ${join(repository, 'churn', '1', 'model.onnx')}\n`);

  // 3. model check passes.
  assert.ok(guide.includes('npx switchyard model check models'));
  const check = await runCli(['model', 'check', repository]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^ok {4}churn 1: loads on cpu$/m);

  // 4. The guide's gateway config, unchanged, validates.
  const configPath = join(dir, 'churn-gateway.yaml');
  await writeFile(configPath, await guideGatewayConfig());
  const validate = await runCli(['validate', '--config', configPath]);
  assert.equal(validate.code, 0, validate.stdout + validate.stderr);

  // 5. switchyard dev on the repository and the config; a request routed to the model.
  assert.ok(guide.includes('npx switchyard dev --repository models --config churn-gateway.yaml'));
  const dev = await startSwitchyard(
    ['dev', '--repository', repository, '--config', configPath, '--port', '0', '--runtime-port', '0'],
    { role: 'gateway', timeoutMs: 40_000 },
  );
  const client = createClient(4);
  try {
    const runtimeUrl = String(
      dev.logs.find((l) => l.msg === 'switchyard listening' && l.role === 'runtime')?.url,
    );
    assert.match(runtimeUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const values: Record<string, unknown[]> = {
      FP32: [0.5, -1.25],
      FP64: [1e-300, 2.5],
      INT32: [7, -7],
      INT64: [9, 10],
      BOOL: [true, false],
    };
    const request = {
      inputs: TYPES_MODEL_DATATYPES.map((d) => ({
        name: `in_${lower(d)}`,
        datatype: d,
        shape: [1, 2],
        data: values[d],
      })),
    };
    // The gateway's first health round: retry until the runtime is in rotation.
    const answer = await waitFor(
      'an answer through the gateway',
      async () => {
        const response = await postJson(client, `${dev.url}/v2/models/churn/infer`, request, {
          ...AUTH,
          'x-user-id': 'u-1',
        });
        return response.status === 200 ? response : undefined;
      },
      15_000,
      100,
    );
    assert.equal(answer.headers['x-switchyard-variant'], 'v1');
    assert.equal(answer.headers['x-switchyard-model-version'], '1');
    const body = answer.body as { model_name: string; outputs: { name: string; data: unknown[] }[] };
    assert.equal(body.model_name, 'churn');
    for (const d of TYPES_MODEL_DATATYPES) {
      const output = body.outputs.find((o) => o.name === `out_${lower(d)}`);
      assert.deepEqual(output?.data, values[d], `out_${lower(d)} echoes its input`);
    }
    const metadata = await getJson(client, `${dev.url}/v2/models/churn`, AUTH);
    assert.equal(metadata.status, 200, metadata.text);
  } finally {
    await client.close();
    assert.equal(await dev.stop(), 0);
  }
});

test('model check fails, naming why, what the runtime would refuse to serve', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-own-model-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = await onnxFile(dir);
  const repository = join(dir, 'models');
  assert.equal((await runCli(['model', 'init', repository, 'churn', '--onnx', file])).code, 0);

  // A second version from the same file: added to the existing config, then its file replaced.
  const added = await runCli(['model', 'init', repository, 'churn', '--onnx', file, '--version', '2']);
  assert.equal(added.code, 0, added.stderr);
  const again = await runCli(['model', 'init', repository, 'churn', '--onnx', file, '--version', '2']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists: choose another --version/);
  await writeFile(join(repository, 'churn', '2', 'model.onnx'), Buffer.from('not a model'));
  // A config that names an output the model lacks.
  const text = await readFile(join(repository, 'churn', 'config.yaml'), 'utf8');
  await writeTypesModel(join(dir, 'other'));
  await writeFile(
    join(dir, 'other', 'types', 'config.yaml'),
    (await readFile(join(dir, 'other', 'types', 'config.yaml'), 'utf8')).replace('out_fp32', 'score'),
  );
  assert.match(text, /'2': \{ sha256: [0-9a-f]{64} \}/);

  const check = await runCli(['model', 'check', repository]);
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stdout, /^ok {4}churn 1: loads on cpu$/m);
  assert.match(
    check.stdout,
    /^FAIL {2}churn 2: checksum mismatch for .*model\.onnx: config says [0-9a-f]{64}, file is [0-9a-f]{64}$/m,
  );
  assert.match(check.stdout, /1 of 2 would not load/);

  const other = await runCli(['model', 'check', join(dir, 'other')]);
  assert.equal(other.code, 1, other.stdout);
  assert.match(other.stdout, /^FAIL {2}types 1: the model has no output "score"/m);

  const missing = await runCli(['model', 'check', join(dir, 'nowhere')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /is not a directory/);
  const empty = await runCli(['model', 'check', join(dir, 'scratch', 'types', '1')]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no model in/);

  const usage = await runCli(['model', 'init', repository, 'churn']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /model init needs --onnx FILE/);
  const badTensor = await runCli(['model', 'init', repository, 'x', '--onnx', file, '--input', 'a:FP16:2']);
  assert.equal(badTensor.code, 2);
  assert.match(badTensor.stderr, /--input takes NAME:DATATYPE:D1,D2/);
});

/** An Identity model of one FP32 tensor with the given dimensions (a number, or a name: free). */
function identityModel(dims: (number | string)[]): Uint8Array {
  const { onnx } = onnxProto;
  const value = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'identity',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'] }],
      input: [value('x')],
      output: [value('y')],
    },
  }).finish();
}

test('model init reads the batch dimension from the file, and asks for dims it cannot read', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-own-model-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repository = join(dir, 'models');
  const configOf = async (name: string) =>
    parseYaml(await readFile(join(repository, name, 'config.yaml'), 'utf8')) as {
      max_batch_size: number;
      inputs: unknown[];
    };

  // A first dimension fixed at 1: one row per run.
  await writeFile(join(dir, 'single.onnx'), identityModel([1, 3]));
  const single = await runCli(['model', 'init', repository, 'single', '--onnx', join(dir, 'single.onnx')]);
  assert.equal(single.code, 0, single.stderr);
  assert.equal((await configOf('single')).max_batch_size, 0);
  assert.deepEqual((await configOf('single')).inputs, [{ name: 'x', datatype: 'FP32', dims: [3] }]);

  // A free sequence length: the config cannot say it, so init asks for it and writes nothing.
  await writeFile(join(dir, 'seq.onnx'), identityModel(['batch', 'seq']));
  const seq = await runCli(['model', 'init', repository, 'seq', '--onnx', join(dir, 'seq.onnx')]);
  assert.equal(seq.code, 1);
  assert.match(
    seq.stderr,
    /input "x" has a free dimension 1 \(seq\): give its dims with --input x:FP32:D1,D2/,
  );
  assert.match(seq.stderr, /output "y" has a free dimension 1/);
  const given = await runCli([
    'model',
    'init',
    repository,
    'seq',
    '--onnx',
    join(dir, 'seq.onnx'),
    '--input',
    'x:FP32:16',
    '--output',
    'y:FP32:16',
  ]);
  assert.equal(given.code, 0, given.stderr);
  assert.equal((await configOf('seq')).max_batch_size, 64);
  const check = await runCli(['model', 'check', repository]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^ok {4}seq 1: loads on cpu$/m);
  assert.match(check.stdout, /^ok {4}single 1: loads on cpu$/m);
});
