import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client as GrpcClient, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { Client as HttpClient } from 'undici';
import type { Send } from './closed-loop.js';

/** The full method path of the protocol's ModelInfer (inference.proto). */
export const MODEL_INFER_PATH = '/inference.GRPCInferenceService/ModelInfer';

const bytesAsIs = (bytes: Buffer): Buffer => bytes;

/** A connection's sender and how to close it; `request` gives the answer's bytes, for checks. */
export interface Connection {
  send: Send;
  request(user: string): Promise<{ ok: boolean; status: number; body: Buffer; contentType?: string }>;
  close(): Promise<void>;
}

/** The loop's sender: the outcome, and a failed answer's first bytes (the error's text). */
function sendOf(request: Connection['request']): Send {
  return async (user) => {
    const answer = await request(user);
    return answer.ok
      ? { ok: true, status: answer.status }
      : { ok: false, status: answer.status, detail: answer.body.subarray(0, 200).toString() };
  };
}

function assertLoopback(host: string): void {
  if (host !== '127.0.0.1') throw new Error(`load is only sent to 127.0.0.1, not ${host}`);
}

/**
 * One HTTP/1.1 connection (an undici Client with pipelining 1) posting `body` to `url`. The body
 * is built once; the answer is read whole and not parsed, so the client's work per request stays
 * small and alike for every body.
 */
export function restConnection(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  timeoutMs: number,
): Connection {
  const target = new URL(url);
  assertLoopback(target.hostname);
  const client = new HttpClient(target.origin, {
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const request = async (user: string) => {
    const answer = await client.request({
      path: target.pathname,
      method: 'POST',
      headers: { ...headers, 'x-user-id': user },
      body,
    });
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    const type = answer.headers['content-type'];
    return {
      ok: answer.statusCode === 200,
      status: answer.statusCode,
      body: bytes,
      ...(typeof type === 'string' ? { contentType: type } : {}),
    };
  };
  return {
    request,
    send: sendOf(request),
    close: () => client.close(),
  };
}

/**
 * One gRPC channel of its own (grpc-js shares a subchannel, hence a TCP connection, between
 * clients of the same address and options unless `grpc.use_local_subchannel_pool` is set) calling
 * ModelInfer with a message serialised once: the client neither encodes nor decodes protobuf per
 * call, as the REST client neither builds nor parses JSON, so the load generator's cost stays out
 * of the way of what is measured (the gateway's). `request` gives the answer's message bytes.
 */
export function grpcConnection(
  address: string,
  message: Buffer,
  auth: Record<string, string>,
  timeoutMs: number,
): Connection {
  assertLoopback(address.slice(0, address.lastIndexOf(':')));
  const client = new GrpcClient(address, credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  const request = (user: string) =>
    new Promise<{ ok: boolean; status: number; body: Buffer }>((resolve, reject) => {
      const metadata = new Metadata();
      for (const [key, value] of Object.entries(auth)) metadata.set(key, value);
      metadata.set('x-user-id', user);
      client.makeUnaryRequest(
        MODEL_INFER_PATH,
        bytesAsIs,
        bytesAsIs,
        message,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null, answer?: Buffer) => {
          if (!error) resolve({ ok: true, status: status.OK, body: answer! });
          // The gateway's refusals carry its request id: an answer, not a failure to get one
          // (a lost connection or a deadline the client's own channel enforced).
          else if (error.metadata?.get('x-request-id').length > 0)
            resolve({ ok: false, status: error.code, body: Buffer.from(error.details) });
          else reject(new Error(`gRPC ${status[error.code]}: ${error.details}`));
        },
      );
    });
  return {
    request,
    send: sendOf(request),
    close: async () => client.close(),
  };
}

/** Inodes of this process's sockets (from the /proc/self/fd links `socket:[N]`). */
function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/**
 * The established TCP connections this process holds to `port` (from /proc/net/tcp and tcp6), by
 * socket inode: those new since an earlier reading are the check that N senders made N connections.
 */
export function connectionsTo(port: number): Set<string> {
  const inodes = ownSocketInodes();
  const found = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = parseInt(fields[2]!.split(':')[1]!, 16);
      // st 01 is ESTABLISHED; field 10 is the socket's inode.
      if (remotePort === port && fields[3] === '01' && inodes.has(fields[9]!)) found.add(fields[9]!);
    }
  }
  return found;
}
