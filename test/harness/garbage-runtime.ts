import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What broken runtimes answer to one fraud row with 200: each looks like an inference response,
 * and none is one the gateway may build an answer from. No real runtime can be made to send them.
 */
export const GARBAGE: Record<string, string> = {
  'empty outputs': answer([]),
  'no outputs': '{"model_name":"fraud","model_version":"1"}',
  'null data': answer([score([null])]),
  'string data': answer([score(['0.2'])]),
  'object data': answer([score([{ value: 0.2 }])]),
  'boolean data': answer([score([true])]),
  'a wrongly named output': answer([{ ...score([0.2]), name: 'probability' }]),
  'score 7.5, above the range': answer([score([7.5])]),
  'score -3, below the range': answer([score([-3])]),
  'a wrong shape': answer([{ ...score([0.2, 0.3]), shape: [1, 2] }]),
  'rows for another request': answer([{ ...score([0.2, 0.3]), shape: [2, 1] }]),
  'a datatype the model does not have': answer([{ ...score([0.2]), datatype: 'FP64' }]),
  '1e309 (Infinity once parsed)': answer([score([0.2])]).replace('0.2', '1e309'),
  'not JSON': '<html>502 Bad Gateway</html>',
};

function score(data: unknown[]) {
  return { name: 'score', datatype: 'FP32', shape: [1, 1], data };
}

function answer(outputs: unknown[]): string {
  return JSON.stringify({ model_name: 'fraud', model_version: '1', outputs });
}

/** The demo fraud model's metadata as switchyard's runtime gives it (one version shown). */
function fraudMetadata(version: string): string {
  return JSON.stringify({
    name: 'fraud',
    versions: [version],
    platform: 'onnxruntime',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
    outputs: [{ name: 'score', datatype: 'FP32', shape: [-1, 1] }],
    parameters: { max_batch_size: 64, version_states: { [version]: { state: 'ready', provider: 'cpu' } } },
  });
}

export interface GarbageRuntime {
  readonly url: string;
  /** Inference requests answered so far. */
  readonly answered: number;
  /** The body of the next answers: a fixed one, or one per request number (from 0). */
  answer: string | ((n: number) => string);
  close(): Promise<void>;
}

/**
 * A runtime stand-in on loopback for the fraud model: ready, with the model's true metadata, and
 * answering every inference 200 with garbage.
 */
export async function startGarbageRuntime(answerWith: GarbageRuntime['answer']): Promise<GarbageRuntime> {
  const state = { answered: 0, answer: answerWith };
  const server = createServer((request, response) => {
    request.resume();
    const version = /^\/v2\/models\/fraud\/versions\/([\w.-]+)$/.exec(request.url ?? '')?.[1];
    if (request.method === 'POST' && request.url?.endsWith('/infer')) {
      const body = typeof state.answer === 'string' ? state.answer : state.answer(state.answered);
      state.answered += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } else if (request.url === '/v2/health/ready') {
      response.writeHead(200).end();
    } else if (request.method === 'GET' && version) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(fraudMetadata(version));
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not here"}');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get answered() {
      return state.answered;
    },
    get answer() {
      return state.answer;
    },
    set answer(next) {
      state.answer = next;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
