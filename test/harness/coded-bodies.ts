import { readFile } from 'node:fs/promises';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { request, type Agent } from 'undici';

/** A body in each content coding a client may send it in, with the header that says so. */
export const CODINGS: readonly { header: string; encode(text: string): Buffer }[] = [
  { header: 'gzip', encode: (text) => gzipSync(text) },
  // Case-insensitive (RFC 9110 §8.4.1), and x-gzip is gzip (§8.4.1.3).
  { header: 'GZip', encode: (text) => gzipSync(text) },
  { header: 'x-gzip', encode: (text) => gzipSync(text) },
  // HTTP's deflate is the zlib format (§8.4.1.2); some clients send raw deflate.
  { header: 'deflate', encode: (text) => deflateSync(text) },
  { header: 'deflate', encode: (text) => deflateRawSync(text) },
  { header: 'identity', encode: (text) => Buffer.from(text) },
];

/**
 * A gzip body that inflates to `megabytes` MiB of zeros from about a kilobyte per MiB: one member
 * per MiB, concatenated (a gzip stream may hold several members, RFC 1952 §2.2). A gigabyte is
 * about 1 MB on the wire.
 */
export function gzipBomb(megabytes: number): Buffer {
  const member = gzipSync(Buffer.alloc(1 << 20));
  return Buffer.concat(Array.from({ length: megabytes }, () => member));
}

/** A gzip body with its deflate data damaged (the header is intact, so it is taken as gzip). */
export function corruptGzip(text: string): Buffer {
  const body = gzipSync(text);
  for (let at = 12; at < body.length - 8; at += 3) body[at] = body[at]! ^ 0x5a;
  return body;
}

export interface RawPost {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The answer's bytes as they came (not decoded). */
  bytes: Buffer;
}

/** POSTs `body` as it is, with `headers`; the answer's bytes are not decoded. */
export async function postBytes(
  dispatcher: Agent,
  url: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<RawPost> {
  const response = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, bytes };
}

/** The resident memory of process `pid` in bytes (Linux /proc). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kilobytes) * 1024;
}

/** The peak resident memory of process `pid` so far in bytes (VmHWM). */
export async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kilobytes = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kilobytes === undefined) throw new Error(`no VmHWM for process ${pid}`);
  return Number(kilobytes) * 1024;
}
