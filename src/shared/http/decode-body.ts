import type { Readable, Transform } from 'node:stream';
import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { BodyProblem, tooLarge } from './body-problem.js';

/** The content codings a request body may arrive in, besides none (identity). */
export type BodyCoding = 'gzip' | 'deflate';

/**
 * A request's `Content-Encoding` (RFC 9110 §8.4: a list of codings in the order they were
 * applied, names case-insensitive): 'identity' when it names none but identity, the coding when
 * it names exactly one that this server decodes (gzip, its alias x-gzip §8.4.1.3, deflate), and a
 * BodyProblem (415) otherwise: an unknown coding, or several layered (no client of the protocol
 * sends them). The same two Triton's HTTP endpoint decodes, and the only ones its Python client's
 * `request_compression_algorithm` sends.
 */
export function bodyCodingOf(header: string, limit: number): BodyCoding | 'identity' | BodyProblem {
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return 'identity';
  const [coding] = codings;
  if (codings.length === 1 && (coding === 'gzip' || coding === 'x-gzip')) return 'gzip';
  if (codings.length === 1 && coding === 'deflate') return 'deflate';
  return new BodyProblem('unsupported_encoding', `"${header}" (send gzip, deflate or identity)`, limit);
}

/** Where decoded bytes go: each chunk as it is inflated, then the end or the one problem. */
export interface DecodedSink {
  onChunk(chunk: Buffer): void;
  onEnd(): void;
  onProblem(problem: BodyProblem): void;
}

/**
 * Inflated output comes in pieces of this size: larger than zlib's 16 KiB default, so a large
 * body costs fewer callbacks, and small enough that a limit is passed by at most this much.
 */
const CHUNK_BYTES = 64 * 1024;

/**
 * Inflates `source` (a request body coded `coding`) into `sink`, stopping the moment the decoded
 * bytes pass `limit`: the limit is on what the body becomes, so a compression bomb (a gigabyte
 * of zeros gzipped to a megabyte) costs at most `limit` bytes of memory and the time to inflate
 * them, then a 413. A stream zlib cannot decode (corrupt, truncated) is a 400 BodyProblem.
 * `source` is read in flowing mode, paused while the inflater is behind; after a problem it is
 * left flowing with no reader of its own, for the caller to read and drop what still arrives. An
 * aborted source ends nothing and reports nothing (no one is left to answer).
 */
export function decodeBody(source: Readable, coding: BodyCoding, limit: number, sink: DecodedSink): void {
  let inflater: Transform | undefined;
  let decoded = 0;
  let finished = false;

  const stop = (): void => {
    finished = true;
    source.off('data', onData).off('end', onEnd).off('close', onClose);
    inflater?.destroy();
  };
  const fail = (problem: BodyProblem): void => {
    if (finished) return;
    stop();
    source.resume();
    sink.onProblem(problem);
  };
  const onOutput = (chunk: Buffer): void => {
    if (finished) return;
    decoded += chunk.length;
    if (decoded > limit) fail(tooLarge(limit));
    else sink.onChunk(chunk);
  };
  const onInflated = (): void => {
    if (finished) return;
    stop();
    sink.onEnd();
  };
  const onData = (chunk: Buffer): void => {
    if (!inflater) {
      inflater = createInflater(coding, chunk);
      inflater.on('data', onOutput).once('end', onInflated);
      inflater.once('error', (error: Error) =>
        fail(new BodyProblem('malformed_encoding', `${coding}: ${error.message}`, limit, { cause: error })),
      );
    }
    if (!inflater.write(chunk)) {
      source.pause();
      inflater.once('drain', () => finished || source.resume());
    }
  };
  // No byte at all is no body, whatever the header says.
  const onEnd = (): void => (inflater ? void inflater.end() : onInflated());
  const onClose = (): void => {
    if (!source.readableEnded) stop();
  };
  source.on('data', onData).once('end', onEnd).once('close', onClose);
}

/**
 * gzip is RFC 1952; `deflate` in HTTP means the zlib format (RFC 9110 §8.4.1.2, RFC 1950), but
 * some clients send a raw deflate stream (RFC 1951), as the RFC itself notes: the first two bytes
 * tell which (a zlib header names method 8 and is a multiple of 31).
 */
/** A zlib header's compression method for deflate (RFC 1950 §2.2, CM = 8). */
const DEFLATE_METHOD = 8;

function createInflater(coding: BodyCoding, first: Buffer): Transform {
  const options = { chunkSize: CHUNK_BYTES };
  if (coding === 'gzip') return createGunzip(options);
  const [cmf = 0, flg = 0] = first;
  const zlibHeader = (cmf & 0x0f) === DEFLATE_METHOD && ((cmf << 8) | flg) % 31 === 0;
  return zlibHeader ? createInflate(options) : createInflateRaw(options);
}
