import { endianness } from 'node:os';

/**
 * Triton's binary tensor data extension, shared by the gateway and the runtime. It follows
 * triton-inference-server/server docs/protocol/extension_binary_data.md (the version of 2020, as
 * KServe's "Binary Tensor Data Extension" page repeats it):
 * - a body with binary tensors is the JSON object, then each binary tensor's bytes with nothing
 *   between them, in the order of the tensors in the JSON; `Inference-Header-Content-Length`
 *   gives the JSON's length in bytes (Content-Length stays the whole body's);
 * - `binary_data_size` (an input's or a response output's parameter) is a tensor's size in bytes;
 * - `binary_data` (an asked output's parameter) asks for that output in binary, overriding the
 *   request's `binary_data_output`, which asks it for every output;
 * - elements are little-endian, row-major, without padding, each in its datatype's native size;
 *   BOOL is one byte, 1 or 0; a BYTES element is a 4-byte little-endian length, then its bytes.
 * The document's example response has `Content-Type: application/octet-stream`.
 */

export const HEADER_LENGTH = 'inference-header-content-length';
export const BINARY_TYPE = 'application/octet-stream';

/** A body that breaks the extension's rules: the client's error, worded for the client. */
export class BinaryBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinaryBodyError';
  }
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  INT8: 1,
  UINT8: 1,
  INT16: 2,
  UINT16: 2,
  FP16: 2,
  BF16: 2,
  INT32: 4,
  UINT32: 4,
  FP32: 4,
  INT64: 8,
  UINT64: 8,
  FP64: 8,
};

/** Bytes of one element of a datatype; undefined for BYTES (each element has its own length) and unknown names. */
export function elementBytes(datatype: string): number | undefined {
  return Object.hasOwn(ELEMENT_BYTES, datatype) ? ELEMENT_BYTES[datatype] : undefined;
}

/** Typed arrays read the platform's byte order; the extension's is little-endian. */
export const LITTLE_ENDIAN = endianness() === 'LE';

export interface SplitBody {
  /** The JSON object's bytes. */
  json: Buffer;
  /** The tensors' bytes after it; undefined when the request has no `Inference-Header-Content-Length`. */
  tensors: Buffer | undefined;
}

/** Splits a body at `Inference-Header-Content-Length`; without the header, the whole body is JSON. */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): SplitBody {
  if (headerLength === undefined) return { json: body, tensors: undefined };
  if (typeof headerLength !== 'string' || !/^\d{1,15}$/.test(headerLength)) {
    throw new BinaryBodyError(
      `Inference-Header-Content-Length: ${JSON.stringify(headerLength)} is not one whole number of bytes`,
    );
  }
  const length = Number(headerLength);
  if (length > body.length) {
    throw new BinaryBodyError(
      `Inference-Header-Content-Length: ${length} bytes of JSON, but the body has only ${body.length} bytes`,
    );
  }
  return { json: body.subarray(0, length), tensors: body.subarray(length) };
}

/**
 * Each input's binary bytes (by its index in `inputs`; undefined for an input given as JSON), or
 * undefined when no input is binary. The request's own shape and datatype say how many bytes an
 * input needs, so this is checked before the model is known: each `binary_data_size` is exactly
 * that, and the sizes add up to the bytes after the JSON, no more and no fewer. Slices of `tensors`,
 * not copies. Other problems with the request (no inputs, a bad name) are left to the
 * protocol's own checks, which word them; this looks only at what it needs.
 */
export function binaryInputs(
  request: unknown,
  tensors: Buffer | undefined,
): (Buffer | undefined)[] | undefined {
  const given = (request as { inputs?: unknown } | null)?.inputs;
  let slices: (Buffer | undefined)[] | undefined;
  let offset = 0;
  if (typeof request === 'object' && request !== null && Array.isArray(given)) {
    for (let index = 0; index < given.length; index++) {
      const input: unknown = given[index];
      if (typeof input !== 'object' || input === null) continue;
      const size = (input as { parameters?: { binary_data_size?: unknown } }).parameters?.binary_data_size;
      if (size === undefined) continue;
      const path = `inputs[${index}]`;
      if (tensors === undefined) {
        throw new BinaryBodyError(
          `${path}.parameters.binary_data_size: binary inputs need the Inference-Header-Content-Length header`,
        );
      }
      if ((input as { data?: unknown }).data !== undefined) {
        throw new BinaryBodyError(`${path}: give "data" or parameters.binary_data_size, not both`);
      }
      const needed = neededBytes(
        input as { shape?: unknown; datatype?: unknown },
        path,
        size,
        tensors,
        offset,
      );
      if (offset + needed > tensors.length) {
        throw new BinaryBodyError(
          `${path}.parameters.binary_data_size: ${needed} bytes from byte ${offset} after the JSON, but only ${tensors.length - offset} remain`,
        );
      }
      slices ??= new Array<Buffer | undefined>(given.length).fill(undefined);
      slices[index] = tensors.subarray(offset, offset + needed);
      offset += needed;
    }
  }
  if (tensors !== undefined && offset !== tensors.length) {
    throw new BinaryBodyError(
      `${tensors.length - offset} bytes after the JSON (Inference-Header-Content-Length) that no input's binary_data_size accounts for`,
    );
  }
  return slices;
}

/** The bytes an input's shape and datatype need, checked against its stated `binary_data_size`. */
function neededBytes(
  input: { shape?: unknown; datatype?: unknown },
  path: string,
  size: unknown,
  tensors: Buffer,
  offset: number,
): number {
  if (!Number.isSafeInteger(size) || (size as number) < 0) {
    throw new BinaryBodyError(
      `${path}.parameters.binary_data_size must be a non-negative whole number of bytes`,
    );
  }
  const { shape, datatype } = input;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new BinaryBodyError(`${path}.shape must be an array of non-negative integers`);
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  if (datatype === 'BYTES') {
    // Walked only as far as the stated size: the elements' length prefixes must fill it exactly.
    const end = offset + (size as number);
    if (end > tensors.length) return size as number; // the caller words it
    let at = offset;
    let element = 0;
    for (; element < elements && at + 4 <= end; element++) at += 4 + tensors.readUInt32LE(at);
    if (element !== elements || at !== end) {
      throw new BinaryBodyError(
        `${path}.parameters.binary_data_size: ${size as number} bytes do not hold exactly ${elements} length-prefixed BYTES elements`,
      );
    }
    return size as number;
  }
  const bytes = typeof datatype === 'string' ? elementBytes(datatype) : undefined;
  if (bytes === undefined) {
    throw new BinaryBodyError(`${path}.datatype: ${JSON.stringify(datatype)} has no binary form`);
  }
  const needed = elements * bytes;
  if (size !== needed) {
    throw new BinaryBodyError(
      `${path}.parameters.binary_data_size: ${size as number} bytes, but shape [${(shape as number[]).join(', ')}] of ${datatype} needs ${needed}`,
    );
  }
  return needed;
}

/**
 * Whether each output is asked for in binary: an output's `binary_data` overrides the request's
 * `binary_data_output`. `outputs` are the request's asked outputs (undefined: every output of the
 * model, `count` of them). Undefined when none is binary, so a JSON answer allocates nothing.
 */
export function binaryOutputs(
  requestParameters: unknown,
  outputs: readonly unknown[] | undefined,
  count: number,
): boolean[] | undefined {
  const all = booleanParameter(requestParameters, 'binary_data_output', 'parameters') ?? false;
  if (outputs === undefined) return all ? new Array<boolean>(count).fill(true) : undefined;
  let binary: boolean[] | undefined;
  for (let index = 0; index < outputs.length; index++) {
    const parameters = (outputs[index] as { parameters?: unknown } | null)?.parameters;
    const asked = booleanParameter(parameters, 'binary_data', `outputs[${index}].parameters`) ?? all;
    if (asked) (binary ??= new Array<boolean>(outputs.length).fill(false))[index] = true;
  }
  return binary;
}

function booleanParameter(parameters: unknown, name: string, path: string): boolean | undefined {
  if (typeof parameters !== 'object' || parameters === null) return undefined;
  const value = (parameters as Record<string, unknown>)[name];
  if (value === undefined || !Object.hasOwn(parameters, name)) return undefined;
  if (typeof value !== 'boolean') throw new BinaryBodyError(`${path}.${name} must be true or false`);
  return value;
}

/** The bytes of a typed array's elements, as a view: no copy. */
export function bytesOf(data: ArrayBufferView, start = 0, length = data.byteLength - start): Buffer {
  const bytes = Buffer.from(data.buffer, data.byteOffset + start, length);
  return LITTLE_ENDIAN
    ? bytes
    : swapped(bytes, (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1);
}

/** A little-endian copy of big-endian elements (or the other way round). */
export function swapped(bytes: Buffer, elementSize: number): Buffer {
  const copy = Buffer.from(bytes);
  if (elementSize === 2) copy.swap16();
  else if (elementSize === 4) copy.swap32();
  else if (elementSize === 8) copy.swap64();
  return copy;
}

/** The body of an answer with binary tensors: the JSON, then the tensors' bytes in the JSON's order. */
export function binaryBody(
  json: string,
  tensors: readonly Uint8Array[],
): { body: Buffer; headerLength: number } {
  const head = Buffer.from(json);
  return { body: Buffer.concat([head, ...tensors]), headerLength: head.length };
}

const BYTES_OF = Symbol('binary tensor bytes');

/**
 * Marks a parsed input as given in binary: its bytes ride on the input object under a symbol, and
 * `data` becomes a getter that decodes them on first read, so a stage that needs the values (a
 * prediction log with inputs, a contract's drift) pays for exactly the tensors it reads and the
 * others are never decoded. Both are hidden from JSON.stringify (a symbol key and a non-enumerable
 * property): the request's JSON forwarded upstream stays the client's, `binary_data_size` and all,
 * and the bytes follow it as they came.
 */
export function attachBinary(input: object, bytes: Buffer): void {
  Object.defineProperty(input, BYTES_OF, { value: bytes, enumerable: false });
  Object.defineProperty(input, 'data', {
    enumerable: false,
    configurable: true,
    get(this: { datatype?: unknown }) {
      const data = decodeBinary(String(this.datatype), bytes);
      Object.defineProperty(this, 'data', { value: data, enumerable: false });
      return data;
    },
  });
}

/** The bytes of an input given in binary (attachBinary), or undefined for one given as JSON. */
export function binaryOf(input: unknown): Buffer | undefined {
  return typeof input === 'object' && input !== null
    ? (input as { [BYTES_OF]?: Buffer })[BYTES_OF]
    : undefined;
}

/**
 * A binary tensor's values as JSON would have carried them (INT64 and UINT64 as numbers, BYTES as
 * strings). Buffer's readers are little-endian on every platform.
 */
export function decodeBinary(datatype: string, bytes: Buffer): (number | boolean | string)[] {
  const values: (number | boolean | string)[] = [];
  if (datatype === 'BOOL') {
    for (let i = 0; i < bytes.length; i++) values.push(bytes[i] !== 0);
    return values;
  }
  if (datatype === 'BYTES') {
    for (let i = 0; i + 4 <= bytes.length;) {
      const length = bytes.readUInt32LE(i);
      values.push(bytes.toString('utf8', i + 4, i + 4 + length));
      i += 4 + length;
    }
    return values;
  }
  const read = READERS[datatype];
  const size = elementBytes(datatype);
  // FP16 and BF16: no JS number type reads them, and no stage of the gateway needs them.
  if (!read || size === undefined) return values;
  for (let at = 0; at + size <= bytes.length; at += size) values.push(Number(read(bytes, at)));
  return values;
}

const READERS: Readonly<Record<string, (bytes: Buffer, offset: number) => number | bigint>> = {
  INT8: (b, o) => b.readInt8(o),
  UINT8: (b, o) => b.readUInt8(o),
  INT16: (b, o) => b.readInt16LE(o),
  UINT16: (b, o) => b.readUInt16LE(o),
  INT32: (b, o) => b.readInt32LE(o),
  UINT32: (b, o) => b.readUInt32LE(o),
  INT64: (b, o) => b.readBigInt64LE(o),
  UINT64: (b, o) => b.readBigUInt64LE(o),
  FP32: (b, o) => b.readFloatLE(o),
  FP64: (b, o) => b.readDoubleLE(o),
};

/**
 * The values of a JSON output (numbers or booleans of `datatype`) as the extension's bytes: what
 * a client that asked for `binary_data` gets back, whatever form the gateway read them in.
 */
export function encodeValues(datatype: string, values: readonly unknown[]): Buffer {
  const size = elementBytes(datatype);
  if (size === undefined) throw new BinaryBodyError(`datatype ${datatype} has no binary form here`);
  const bytes = Buffer.allocUnsafe(values.length * size);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const o = i * size;
    switch (datatype) {
      case 'BOOL':
        bytes[o] = value ? 1 : 0;
        break;
      case 'INT8':
        bytes.writeInt8(value as number, o);
        break;
      case 'UINT8':
        bytes.writeUInt8(value as number, o);
        break;
      case 'INT16':
        bytes.writeInt16LE(value as number, o);
        break;
      case 'UINT16':
        bytes.writeUInt16LE(value as number, o);
        break;
      case 'INT32':
        bytes.writeInt32LE(value as number, o);
        break;
      case 'UINT32':
        bytes.writeUInt32LE(value as number, o);
        break;
      case 'INT64':
        bytes.writeBigInt64LE(BigInt(value as number), o);
        break;
      case 'UINT64':
        bytes.writeBigUInt64LE(BigInt(value as number), o);
        break;
      case 'FP32':
        bytes.writeFloatLE(value as number, o);
        break;
      case 'FP64':
        bytes.writeDoubleLE(value as number, o);
        break;
      default:
        throw new BinaryBodyError(`datatype ${datatype} has no binary form here`);
    }
  }
  return bytes;
}

/**
 * Which outputs a client's request asks for in binary: an output named in `outputs` by its own
 * `binary_data`, any other by the request's `binary_data_output`. Undefined when the request asks
 * for none in binary, so a JSON answer costs nothing more. Flags that are not booleans were
 * refused when the request was checked.
 */
export function binaryOutputWanted(request: unknown): ((name: string) => boolean) | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const { parameters, outputs } = request as { parameters?: unknown; outputs?: unknown };
  const all = (parameters as { binary_data_output?: unknown } | undefined)?.binary_data_output === true;
  const flagOf = (output: unknown): unknown =>
    ((output as { parameters?: unknown } | null)?.parameters as { binary_data?: unknown } | undefined)
      ?.binary_data;
  const listed = Array.isArray(outputs) ? outputs : undefined;
  // Every JSON answer asks this: it allocates nothing until a flag is found.
  if (!all && !listed?.some((output) => flagOf(output) === true)) return undefined;
  const own = new Map<string, boolean>();
  for (const output of listed ?? []) {
    const name = (output as { name?: unknown } | null)?.name;
    const flag = flagOf(output);
    if (typeof name === 'string' && typeof flag === 'boolean') own.set(name, flag);
  }
  return (name) => own.get(name) ?? all;
}
