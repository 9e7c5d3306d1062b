import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  Metadata,
  Server,
  ServerCredentials,
  status as Status,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import { GrpcChannel } from '../runtime-pool/grpc-channel.js';
import {
  inferenceService,
  type ModelInferRequest,
  type ModelInferResponse,
} from '../shared/grpc/inference.js';
import type { InferRequest } from '../shared/oip.js';
import { grpcExchange, httpStatusOf } from './grpc-exchange.js';

describe('httpStatusOf: the REST runtime’s status for a gRPC status', () => {
  test('as the runtime maps them, and google.rpc.Code’s mapping for the rest', () => {
    const cases: [Status, string, boolean, number, boolean][] = [
      [Status.OK, '', true, 200, false],
      [Status.INVALID_ARGUMENT, 'bad', true, 400, false],
      [Status.FAILED_PRECONDITION, '', true, 400, false],
      [Status.NOT_FOUND, '', true, 404, false],
      [Status.RESOURCE_EXHAUSTED, 'queue full', true, 429, false],
      [Status.RESOURCE_EXHAUSTED, 'Received message larger than max (10 vs. 5)', true, 413, false],
      [Status.UNAVAILABLE, 'not ready', true, 503, false],
      [Status.UNIMPLEMENTED, '', true, 501, false],
      [Status.UNAUTHENTICATED, '', true, 401, false],
      [Status.PERMISSION_DENIED, '', true, 403, false],
      [Status.INTERNAL, '', true, 500, false],
      [Status.UNKNOWN, '', true, 500, false],
      // Not statuses: the deadline is the exchange's timeout; no server answer, a connection error.
      [Status.DEADLINE_EXCEEDED, '', true, 0, true],
      [Status.DEADLINE_EXCEEDED, '', false, 0, true],
      [Status.UNAVAILABLE, 'No connection established', false, 0, false],
      [Status.INTERNAL, 'Received RST_STREAM', false, 0, false],
    ];
    for (const [code, details, answered, status, timedOut] of cases) {
      assert.deepEqual(
        httpStatusOf(code, details, answered),
        { status, timedOut },
        `${Status[code]} ${details}`,
      );
    }
  });
});

describe('grpcExchange against a real gRPC server', () => {
  let server: Server;
  let channel: GrpcChannel;
  let channelAddress: string;
  let seen: { request: ModelInferRequest; metadata: Metadata; deadline: number }[] = [];
  let answer: (
    call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
    done: sendUnaryData<ModelInferResponse>,
  ) => void;

  before(async () => {
    server = new Server();
    server.addService(inferenceService(), {
      ModelInfer: (
        call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
        done: sendUnaryData<ModelInferResponse>,
      ) => {
        const deadline = call.getDeadline();
        seen.push({
          request: call.request,
          metadata: call.metadata,
          deadline: deadline instanceof Date ? deadline.getTime() : deadline,
        });
        answer(call, done);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    channelAddress = `127.0.0.1:${port}`;
    channel = new GrpcChannel(channelAddress, { maxReconnectBackoffMs: 1000 });
  });
  after(() => {
    channel.close();
    server.forceShutdown();
  });

  const inference: InferRequest = {
    id: 'r-1',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 2], data: [0.5, 2] }],
  };
  const headers = {
    'content-type': 'application/json',
    'x-request-id': 'req-42',
    'x-request-timeout-ms': '500',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };

  test('a 200: the REST answer’s text, server-timing from the trailers, request id and trace context as metadata', async () => {
    seen = [];
    answer = (call, done) => {
      const trailers = new Metadata();
      trailers.set('server-timing', 'queue;dur=0.100');
      done(
        null,
        {
          model_name: call.request.model_name,
          model_version: call.request.model_version,
          id: call.request.id,
          outputs: [{ name: 'score', datatype: 'FP32', shape: [1, 1] }],
          raw_output_contents: [Buffer.from(new Float32Array([0.25]).buffer)],
        },
        trailers,
      );
    };
    const startedAt = Date.now();
    const result = await grpcExchange(channel, 'fraud', '2', { inference, body: '' }, 500, headers);
    assert.deepEqual(result, {
      status: 200,
      text: '{"model_name":"fraud","model_version":"2","outputs":[{"name":"score","datatype":"FP32","shape":[1,1],"data":[0.25]}],"id":"r-1"}',
      serverTiming: 'queue;dur=0.100',
      timedOut: false,
    });
    const [call] = seen;
    assert.equal(call!.request.model_name, 'fraud');
    assert.equal(call!.request.raw_input_contents[0]!.readFloatLE(4), 2);
    assert.deepEqual(call!.metadata.get('x-request-id'), ['req-42']);
    assert.deepEqual(call!.metadata.get('traceparent'), [headers.traceparent]);
    assert.deepEqual(call!.metadata.get('x-request-timeout-ms'), ['500']);
    // The call's gRPC deadline is the time the exchange was given.
    assert.ok(
      call!.deadline >= startedAt + 450 && call!.deadline <= Date.now() + 500,
      String(call!.deadline - startedAt),
    );
  });

  test('from the text alone: binary inputs are the bytes after the JSON, by binary_data_size', async () => {
    seen = [];
    answer = (_call, done) =>
      done({ code: Status.INVALID_ARGUMENT, details: 'no', metadata: new Metadata() });
    const json = JSON.stringify({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
        { name: 'b', datatype: 'INT32', shape: [1], data: [9] },
        { name: 'c', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
      ],
    });
    const tensors = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const body = {
      bytes: Buffer.concat([Buffer.from(json), tensors]),
      headerLength: Buffer.byteLength(json),
    };
    await grpcExchange(channel, 'm', '1', { inference: undefined, body }, 500, headers);
    const raw = seen[0]!.request.raw_input_contents;
    assert.deepEqual(
      raw.map((b) => [...b]),
      [[...tensors.subarray(0, 4)], [9, 0, 0, 0], [...tensors.subarray(4)]],
    );
  });

  test('a server’s refusal is its REST status with the protocol’s error body', async () => {
    for (const [code, status] of [
      [Status.INVALID_ARGUMENT, 400],
      [Status.NOT_FOUND, 404],
      [Status.UNAVAILABLE, 503],
      [Status.RESOURCE_EXHAUSTED, 429],
      [Status.INTERNAL, 500],
    ] as const) {
      answer = (_call, done) => done({ code, details: `said ${code}`, metadata: new Metadata() });
      const result = await grpcExchange(channel, 'm', '1', { inference, body: '' }, 500, headers);
      assert.deepEqual(result, {
        status,
        text: JSON.stringify({ error: `said ${code}` }),
        serverTiming: undefined,
        timedOut: false,
      });
    }
  });

  test('no answer before the deadline: timedOut, at the deadline', async () => {
    answer = () => {}; // never answers
    const started = performance.now();
    const result = await grpcExchange(channel, 'm', '1', { inference, body: '' }, 150, headers);
    const elapsed = performance.now() - started;
    assert.equal(result.status, 0);
    assert.equal(result.timedOut, true);
    assert.ok(elapsed >= 140 && elapsed < 1000, `${elapsed.toFixed(0)} ms`);
  });

  test('nothing listening: a connection error (status 0), not a status', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const nowhere = new GrpcChannel(`127.0.0.1:${closed}`, { maxReconnectBackoffMs: 1000 });
    try {
      const result = await grpcExchange(nowhere, 'm', '1', { inference, body: '' }, 2000, headers);
      assert.equal(result.status, 0);
      assert.equal(result.timedOut, false);
      assert.match(result.error?.message ?? '', /ECONNREFUSED|No connection/);
    } finally {
      nowhere.close();
    }
  });

  test('a closed channel (an endpoint that left the pool) is a connection error, not a throw', async () => {
    const closed = new GrpcChannel('127.0.0.1:1', { maxReconnectBackoffMs: 1000 });
    closed.close();
    const result = await grpcExchange(closed, 'm', '1', { inference, body: '' }, 500, headers);
    assert.equal(result.status, 0);
    assert.equal(result.timedOut, false);
    assert.ok(result.error);
  });

  test('destroy() ends the calls in flight at once', async () => {
    answer = () => {}; // never answers
    const own = new GrpcChannel(channelAddress, { maxReconnectBackoffMs: 1000 });
    const pending = grpcExchange(own, 'm', '1', { inference, body: '' }, 5000, headers);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    own.destroy();
    const result = await pending;
    assert.ok(performance.now() - started < 1000);
    assert.equal(result.timedOut, false);
    assert.equal(result.status, 0, 'cancelled by us: no answer from the server');
  });

  test('what protobuf cannot carry is refused as the REST runtime would, without a call', async () => {
    seen = [];
    const result = await grpcExchange(
      channel,
      'm',
      '1',
      { inference: { ...inference, parameters: { deep: { a: 1 } } } as InferRequest, body: '' },
      500,
      headers,
    );
    assert.equal(result.status, 400);
    assert.deepEqual(JSON.parse(result.text), {
      error: 'parameters.deep must be a string, a number or a boolean',
    });
    assert.equal(seen.length, 0);
  });
});
