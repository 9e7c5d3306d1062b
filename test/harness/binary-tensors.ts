import { request, type Agent } from 'undici';

/**
 * A client's side of Triton's binary tensor data extension, written for the tests from
 * triton-inference-server/server docs/protocol/extension_binary_data.md: the JSON object, then
 * each binary input's bytes in the inputs' order, `Inference-Header-Content-Length` the JSON's
 * length; elements little-endian in their native size, BOOL one byte (1 or 0). Independent of
 * src/shared/binary-tensors.ts on purpose: the tests check the servers against the document, not
 * against the servers' own encoder.
 */

export type Values = readonly number[] | readonly boolean[] | readonly bigint[];

export interface BinaryInput {
  name: string;
  datatype: 'FP32' | 'FP64' | 'INT32' | 'INT64' | 'BOOL';
  shape: number[];
  values: Values;
  /** Send as JSON `data` instead (mixed requests). */
  json?: boolean;
  /** Overrides the stated binary_data_size (a wrong size). */
  statedSize?: number;
}

/** The little-endian bytes of the values of one tensor. */
export function encodeValues(datatype: BinaryInput['datatype'], values: Values): Buffer {
  const size = { FP32: 4, FP64: 8, INT32: 4, INT64: 8, BOOL: 1 }[datatype];
  const bytes = Buffer.alloc(values.length * size);
  values.forEach((value, i) => {
    const at = i * size;
    if (datatype === 'FP32') bytes.writeFloatLE(value as number, at);
    else if (datatype === 'FP64') bytes.writeDoubleLE(value as number, at);
    else if (datatype === 'INT32') bytes.writeInt32LE(value as number, at);
    else if (datatype === 'INT64') bytes.writeBigInt64LE(BigInt(value as number | bigint), at);
    else bytes.writeUInt8(value ? 1 : 0, at);
  });
  return bytes;
}

/** The values of one binary tensor's little-endian bytes. */
export function decodeValues(datatype: string, bytes: Buffer): number[] | boolean[] | bigint[] {
  const size = { FP32: 4, FP64: 8, INT32: 4, INT64: 8, BOOL: 1 }[datatype];
  if (size === undefined) throw new Error(`no decoder for ${datatype}`);
  const out: (number | boolean | bigint)[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    if (datatype === 'FP32') out.push(bytes.readFloatLE(at));
    else if (datatype === 'FP64') out.push(bytes.readDoubleLE(at));
    else if (datatype === 'INT32') out.push(bytes.readInt32LE(at));
    else if (datatype === 'INT64') out.push(bytes.readBigInt64LE(at));
    else out.push(bytes[at] === 1);
  }
  return out as number[] | boolean[] | bigint[];
}

export interface EncodedRequest {
  body: Buffer;
  headerLength: number;
}

/** A request body: the JSON (with `extra` merged at its top level), then the binary inputs' bytes. */
export function encodeRequest(
  inputs: readonly BinaryInput[],
  extra: Record<string, unknown> = {},
): EncodedRequest {
  const tensors: Buffer[] = [];
  const json = {
    ...extra,
    inputs: inputs.map((input) => {
      const { name, datatype, shape } = input;
      if (input.json)
        return {
          name,
          datatype,
          shape,
          data: input.values.map((v) => (typeof v === 'bigint' ? Number(v) : v)),
        };
      const bytes = encodeValues(datatype, input.values);
      tensors.push(bytes);
      return { name, datatype, shape, parameters: { binary_data_size: input.statedSize ?? bytes.length } };
    }),
  };
  const head = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([head, ...tensors]), headerLength: head.length };
}

export interface BinaryOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size?: number };
  data?: unknown[];
  /** Decoded from the binary part, or `data` as it came. */
  values: unknown[];
}

export interface BinaryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON part, parsed. */
  json: Record<string, unknown> & { outputs?: BinaryOutput[]; error?: unknown };
  raw: Buffer;
}

/** POSTs a body (with the header when `headerLength` is given) and splits the answer per the extension. */
export async function postBinary(
  dispatcher: Agent,
  url: string,
  encoded: { body: Buffer; headerLength?: number | string },
  headers: Record<string, string> = {},
): Promise<BinaryResponse> {
  const response = await request(url, {
    method: 'POST',
    dispatcher,
    headers: {
      'content-type': 'application/octet-stream',
      ...(encoded.headerLength === undefined
        ? {}
        : { 'inference-header-content-length': String(encoded.headerLength) }),
      ...headers,
    },
    body: encoded.body,
  });
  const raw = Buffer.from(await response.body.arrayBuffer());
  const stated = response.headers['inference-header-content-length'];
  const jsonLength = stated === undefined ? raw.length : Number(stated);
  const json = JSON.parse(raw.subarray(0, jsonLength).toString()) as BinaryResponse['json'];
  let at = jsonLength;
  for (const output of json.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) {
      output.values = output.data ?? [];
      continue;
    }
    output.values = decodeValues(output.datatype, raw.subarray(at, at + size));
    at += size;
  }
  if (at !== raw.length)
    throw new Error(`${raw.length - at} bytes after the outputs the answer accounts for`);
  return { status: response.statusCode, headers: response.headers, json, raw };
}
