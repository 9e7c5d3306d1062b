import { inferenceService, type ModelInferResponse } from '../../src/shared/grpc/inference.js';

/** The four ways a client can send one Open Inference Protocol request to the gateway. */
export const PROTOCOLS = ['rest-json', 'rest-binary', 'grpc-typed', 'grpc-raw'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** One FP32 input tensor, in every protocol's form. */
export interface OipForms {
  model: string;
  /** REST: the JSON body. */
  json: Buffer;
  /** REST with the binary tensor extension: the JSON header, then the Float32 bytes. */
  binary: Buffer;
  /** The binary body's JSON length, for `Inference-Header-Content-Length`. */
  binaryHeaderLength: number;
  /** gRPC ModelInferRequest, serialised: values in `contents.fp32_contents`. */
  grpcTyped: Buffer;
  /** gRPC ModelInferRequest, serialised: values as bytes in `raw_input_contents`. */
  grpcRaw: Buffer;
}

function float32Bytes(values: readonly number[]): Buffer {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes;
}

/** `values` (row-major, `shape`) as the input `input` of `model`, in all four forms. */
export function oipForms(model: string, input: string, shape: number[], values: readonly number[]): OipForms {
  const data = [...values];
  const bytes = float32Bytes(values);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: input, datatype: 'FP32', shape, parameters: { binary_data_size: bytes.length } }],
    }),
  );
  const serialize = inferenceService().ModelInfer!.requestSerialize;
  const tensor = { name: input, datatype: 'FP32', shape };
  return {
    model,
    json: Buffer.from(JSON.stringify({ inputs: [{ ...tensor, data }] })),
    binary: Buffer.concat([head, bytes]),
    binaryHeaderLength: head.length,
    grpcTyped: serialize({ model_name: model, inputs: [{ ...tensor, contents: { fp32_contents: data } }] }),
    grpcRaw: serialize({ model_name: model, inputs: [tensor], raw_input_contents: [bytes] }),
  };
}

/** The request's bytes on the wire in `protocol` (the body or the protobuf message; no headers). */
export function requestBytes(forms: OipForms, protocol: Protocol): number {
  switch (protocol) {
    case 'rest-json':
      return forms.json.length;
    case 'rest-binary':
      return forms.binary.length;
    case 'grpc-typed':
      return forms.grpcTyped.length;
    case 'grpc-raw':
      return forms.grpcRaw.length;
  }
}

/** An answer reduced to what must agree across protocols: version, and each output's values as FP32. */
export interface Outputs {
  model_version: string;
  outputs: { name: string; datatype: string; shape: number[]; values: number[] }[];
}

interface RestAnswer {
  model_version?: string;
  outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
}

/**
 * The answer of `protocol` (its body bytes) as {@link Outputs}. REST answers are JSON (no binary
 * output was asked for); gRPC answers are decoded with the protocol's own message definition. The
 * values are compared as float32, which every form carries exactly.
 */
export function outputsOf(protocol: Protocol, body: Buffer): Outputs {
  if (protocol === 'rest-json' || protocol === 'rest-binary') {
    const answer = JSON.parse(body.toString()) as RestAnswer;
    return {
      model_version: answer.model_version ?? '',
      outputs: answer.outputs.map((o) => ({
        name: o.name,
        datatype: o.datatype,
        shape: o.shape,
        values: (o.data.flat(Infinity) as number[]).map(Math.fround),
      })),
    };
  }
  const answer = inferenceService().ModelInfer!.responseDeserialize(body) as ModelInferResponse;
  return {
    model_version: answer.model_version,
    outputs: answer.outputs.map((o, i) => {
      let values: number[];
      if (protocol === 'grpc-raw') {
        const raw = answer.raw_output_contents[i];
        if (!raw) throw new Error(`grpc-raw: no raw_output_contents for output ${o.name}`);
        values = Array.from({ length: raw.length / 4 }, (_, k) => raw.readFloatLE(k * 4));
      } else {
        values = (o.contents?.fp32_contents ?? []).map(Math.fround);
      }
      return { name: o.name, datatype: o.datatype, shape: o.shape, values };
    }),
  };
}
