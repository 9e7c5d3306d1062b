import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Agent } from 'undici';
import {
  encodeRequest,
  encodeValues,
  postBinary,
  type BinaryInput,
  type EncodedRequest,
} from '../harness/binary-tensors.js';
import { fraudRequest, fraudRows } from '../harness/fraud.js';
import { createClient, postJson } from '../harness/http.js';
import { TYPES_MODEL_DATATYPES, writeTypesModel } from '../harness/models.js';
import type { StartedProcess } from '../harness/process.js';
import { copyRepository, startRuntime } from '../harness/runtime.js';

/**
 * The runtime's binary tensor data extension (triton-inference-server/server
 * docs/protocol/extension_binary_data.md) against a real runtime: the `types` model echoes one
 * [N, 2] tensor of each datatype the runtime serves, `fraud` scores FP32 rows.
 */
describe('runtime: binary tensor data extension', () => {
  let runtime: StartedProcess;
  let client: Agent;
  let repository: Awaited<ReturnType<typeof copyRepository>>;

  before(async () => {
    repository = await copyRepository(['fraud']);
    await writeTypesModel(repository.dir);
    runtime = await startRuntime({ repository: repository.dir });
    client = createClient();
  });
  after(async () => {
    await client.close();
    assert.equal(await runtime.stop(), 0);
    await repository.remove();
  });

  const typesUrl = () => `${runtime.url}/v2/models/types/infer`;

  /** Two rows of each datatype, with values JSON could not carry exactly where the type allows. */
  const VALUES: Record<(typeof TYPES_MODEL_DATATYPES)[number], BinaryInput['values']> = {
    FP32: [1.5, -0.25, 3.4028234663852886e38, 1e-45],
    FP64: [Math.PI, -1e300, 5e-324, 0],
    INT32: [-2147483648, 2147483647, 0, -7],
    INT64: [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -3n],
    BOOL: [true, false, false, true],
  };
  const typesInputs = (json: (d: string) => boolean = () => false): BinaryInput[] =>
    TYPES_MODEL_DATATYPES.map((datatype) => ({
      name: `in_${datatype.toLowerCase()}`,
      datatype,
      shape: [2, 2],
      values: VALUES[datatype],
      json: json(datatype),
    }));

  test('binary in, binary out, every datatype: the bytes come back exact, with the header length', async () => {
    const encoded = encodeRequest(typesInputs(), { parameters: { binary_data_output: true } });
    const response = await postBinary(client, typesUrl(), encoded);
    assert.equal(response.status, 200, response.raw.toString());
    assert.equal(response.headers['content-type'], 'application/octet-stream');
    const headerLength = Number(response.headers['inference-header-content-length']);
    assert.ok(headerLength > 0 && headerLength < response.raw.length);
    assert.equal(Number(response.headers['content-length']), response.raw.length);
    const outputs = response.json.outputs!;
    assert.equal(outputs.length, 5);
    for (const datatype of TYPES_MODEL_DATATYPES) {
      const output = outputs.find((o) => o.name === `out_${datatype.toLowerCase()}`)!;
      assert.equal(output.datatype, datatype);
      assert.deepEqual(output.shape, [2, 2]);
      assert.equal(output.data, undefined, 'a binary output has no data in the JSON');
      assert.equal(output.parameters?.binary_data_size, encodeValues(datatype, VALUES[datatype]).length);
      const expected =
        datatype === 'FP32' ? (VALUES.FP32 as number[]).map((v) => Math.fround(v)) : [...VALUES[datatype]];
      assert.deepEqual(output.values, expected, datatype);
    }
  });

  test('binary in, JSON out when no output is asked in binary', async () => {
    const inputs = typesInputs().map((input) =>
      input.datatype === 'INT64' ? { ...input, values: [1n, -2n, 3n, 4n] } : input,
    );
    const response = await postBinary(client, typesUrl(), encodeRequest(inputs));
    assert.equal(response.status, 200, response.raw.toString());
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.headers['inference-header-content-length'], undefined);
    const int32 = response.json.outputs!.find((o) => o.name === 'out_int32')!;
    assert.deepEqual(int32.data, VALUES.INT32);
    const int64 = response.json.outputs!.find((o) => o.name === 'out_int64')!;
    assert.deepEqual(int64.data, [1, -2, 3, 4]);
  });

  test('an INT64 beyond 2^53 comes back in binary, and is refused (400) only when asked as JSON', async () => {
    const json = await postBinary(client, typesUrl(), encodeRequest(typesInputs()));
    assert.equal(json.status, 400, json.raw.toString());
    assert.match(
      String(json.json.error),
      /out_int64.*beyond what a JSON number carries exactly; ask for it in binary/,
    );
    const binary = await postBinary(
      client,
      typesUrl(),
      encodeRequest(typesInputs(), { outputs: [{ name: 'out_int64', parameters: { binary_data: true } }] }),
    );
    assert.equal(binary.status, 200, binary.raw.toString());
    assert.deepEqual(binary.json.outputs![0]!.values, VALUES.INT64);
  });

  test('mixed: JSON and binary inputs in one request; binary_data per output overrides binary_data_output', async () => {
    const inputs = typesInputs((d) => d === 'FP64' || d === 'BOOL').map((input) =>
      input.datatype === 'INT64' ? { ...input, values: [5n, 6n, 7n, 8n] } : input,
    );
    const encoded = encodeRequest(inputs, {
      parameters: { binary_data_output: true },
      outputs: [
        { name: 'out_fp32' },
        { name: 'out_bool', parameters: { binary_data: false } },
        { name: 'out_fp64', parameters: { binary_data: true } },
      ],
    });
    const response = await postBinary(client, typesUrl(), encoded);
    assert.equal(response.status, 200, response.raw.toString());
    const [fp32, bool, fp64] = response.json.outputs!;
    assert.equal(fp32!.name, 'out_fp32');
    assert.equal(fp32!.parameters?.binary_data_size, 16);
    assert.deepEqual(
      fp32!.values,
      (VALUES.FP32 as number[]).map((v) => Math.fround(v)),
    );
    assert.equal(bool!.parameters, undefined);
    assert.deepEqual(bool!.data, VALUES.BOOL);
    assert.equal(fp64!.parameters?.binary_data_size, 32);
    assert.deepEqual(fp64!.values, VALUES.FP64);
  });

  test('JSON in, binary out for one output', async () => {
    const response = await postBinary(client, `${runtime.url}/v2/models/fraud/infer`, {
      body: Buffer.from(
        JSON.stringify({
          ...fraudRequest(fraudRows(3)),
          outputs: [{ name: 'score', parameters: { binary_data: true } }],
        }),
      ),
    });
    assert.equal(response.status, 200, response.raw.toString());
    const json = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, fraudRequest(fraudRows(3)));
    const expected = (json.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
    assert.deepEqual(response.json.outputs![0]!.values, expected);
    assert.deepEqual(response.json.outputs![0]!.shape, [3, 1]);
  });

  test('binary FP32 rows score as their JSON form does, at any alignment of the bytes', async () => {
    const rows = fraudRows(5);
    const json = await postJson(client, `${runtime.url}/v2/models/fraud/infer`, fraudRequest(rows));
    const expected = (json.body as { outputs: { data: number[] }[] }).outputs[0]!.data;
    for (let padding = 0; padding < 8; padding++) {
      const encoded = encodeRequest(
        [{ name: 'features', datatype: 'FP32', shape: [5, 8], values: rows.flat() }],
        {
          id: `pad-${padding}`,
        },
      );
      // JSON allows whitespace after the object: it moves the tensors' offset in the body.
      const head = encoded.body.subarray(0, encoded.headerLength);
      const padded: EncodedRequest = {
        body: Buffer.concat([head, Buffer.alloc(padding, 0x20), encoded.body.subarray(encoded.headerLength)]),
        headerLength: encoded.headerLength + padding,
      };
      const response = await postBinary(client, `${runtime.url}/v2/models/fraud/infer`, padded);
      assert.equal(response.status, 200, response.raw.toString());
      assert.equal(response.json.id, `pad-${padding}`);
      assert.deepEqual(response.json.outputs![0]!.data, expected, `padding ${padding}`);
    }
  });

  test('an infer URL in an unusual form (Fastify route) takes and answers binary tensors too', async () => {
    const encoded = encodeRequest(typesInputs(), { parameters: { binary_data_output: true } });
    const response = await postBinary(client, `${typesUrl()}?from=test`, encoded);
    assert.equal(response.status, 200, response.raw.toString());
    assert.equal(response.headers['content-type'], 'application/octet-stream');
    const bool = response.json.outputs!.find((o) => o.name === 'out_bool')!;
    assert.deepEqual(bool.values, VALUES.BOOL);
  });

  describe('refused with 400 and a message naming the problem, the runtime still serving', () => {
    const fraud = (overrides: Partial<BinaryInput> = {}): EncodedRequest =>
      encodeRequest([
        { name: 'features', datatype: 'FP32', shape: [1, 8], values: fraudRows(1)[0]!, ...overrides },
      ]);
    const withExtra = (encoded: EncodedRequest, extra: Buffer): EncodedRequest => ({
      body: Buffer.concat([encoded.body, extra]),
      headerLength: encoded.headerLength,
    });
    const cases: [string, () => { body: Buffer; headerLength?: number | string }, RegExp][] = [
      [
        'binary_data_size not what the shape needs',
        () => fraud({ statedSize: 28 }),
        /28 bytes, but shape \[1, 8\] of FP32 needs 32/,
      ],
      [
        'a shape needing more bytes than sent',
        () => fraud({ shape: [2, 8], statedSize: 64 }),
        /64 bytes from byte 0 .* only 32 remain/,
      ],
      [
        'bytes left over after the tensors',
        () => withExtra(fraud(), Buffer.alloc(4)),
        /4 bytes after the JSON .* no input/,
      ],
      [
        'header length beyond the body',
        () => ({ ...fraud(), headerLength: fraud().body.length + 1 }),
        /Inference-Header-Content-Length: \d+ bytes of JSON, but the body has only/,
      ],
      ['header length not a number', () => ({ ...fraud(), headerLength: 'ten' }), /not one whole number/],
      ['header length cutting the JSON', () => ({ ...fraud(), headerLength: 10 }), /not valid JSON/],
      [
        'binary_data_size without the header',
        () => ({ body: fraud().body.subarray(0, fraud().headerLength) }),
        /need the Inference-Header-Content-Length header/,
      ],
      [
        'binary_data_size and data both',
        () => {
          const json = Buffer.from(
            JSON.stringify({
              inputs: [
                {
                  name: 'features',
                  datatype: 'FP32',
                  shape: [1, 8],
                  data: fraudRows(1)[0],
                  parameters: { binary_data_size: 32 },
                },
              ],
            }),
          );
          return { body: Buffer.concat([json, Buffer.alloc(32)]), headerLength: json.length };
        },
        /not both/,
      ],
      ['a negative binary_data_size', () => fraud({ statedSize: -4 }), /non-negative whole number/],
      [
        'BYTES, which no model here takes (one length-prefixed element)',
        () => {
          const json = Buffer.from(
            JSON.stringify({
              inputs: [
                { name: 'features', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 7 } },
              ],
            }),
          );
          const element = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('abc')]);
          return { body: Buffer.concat([json, element]), headerLength: json.length };
        },
        /inputs\[0\]\.datatype: expected FP32, got "BYTES"/,
      ],
      [
        'BYTES whose length prefixes do not fill binary_data_size',
        () => {
          const json = Buffer.from(
            JSON.stringify({
              inputs: [
                { name: 'features', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: 8 } },
              ],
            }),
          );
          const element = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('abcd')]);
          return { body: Buffer.concat([json, element]), headerLength: json.length };
        },
        /do not hold exactly 1 length-prefixed BYTES elements/,
      ],
      [
        'a BOOL byte that is neither 0 nor 1',
        () => {
          const encoded = encodeRequest(typesInputs());
          // The BOOL tensor is the last of the inputs: make its first byte 2.
          encoded.body[encoded.body.length - 4] = 2;
          return encoded;
        },
        /not a BOOL/,
      ],
      [
        'binary_data that is not a boolean',
        () => ({
          body: Buffer.from(
            JSON.stringify({
              ...fraudRequest(fraudRows(1)),
              outputs: [{ name: 'score', parameters: { binary_data: 'yes' } }],
            }),
          ),
        }),
        /outputs\[0\]\.parameters\.binary_data must be true or false/,
      ],
    ];
    for (const [what, body, message] of cases) {
      test(what, async () => {
        const response = await postBinary(
          client,
          what.startsWith('a BOOL') ? typesUrl() : `${runtime.url}/v2/models/fraud/infer`,
          body(),
        );
        assert.equal(response.status, 400, response.raw.toString());
        assert.match(String(response.json.error), message);
      });
    }

    test('after all of them, a valid binary request is served', async () => {
      const response = await postBinary(client, `${runtime.url}/v2/models/fraud/infer`, fraud());
      assert.equal(response.status, 200);
    });
  });
});
