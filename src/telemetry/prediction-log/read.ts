import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { rotatedPath } from './file-sink.js';

/** The log file and its rotated siblings that exist, oldest first (`path.N` … `path.1`, `path`). */
export async function logFiles(path: string): Promise<string[]> {
  const name = basename(path);
  let entries: string[];
  try {
    entries = await readdir(dirname(path));
  } catch {
    return [];
  }
  const rotated = entries
    .map((entry) => (entry.startsWith(`${name}.`) ? Number(entry.slice(name.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a);
  const files = rotated.map((n) => rotatedPath(path, n));
  if (entries.includes(name)) files.push(path);
  return files;
}

/** Each record of the files in order; lines that are not a JSON object (a torn write) are counted, not fatal. */
export async function* readRecords(
  files: readonly string[],
  unreadable: { lines: number } = { lines: 0 },
): AsyncGenerator<Record<string, unknown>> {
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const record = parseRecord(line);
      if (record) yield record;
      else unreadable.lines++;
    }
  }
}

export function parseRecord(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const CHUNK_BYTES = 64 * 1024;

/** The last `count` non-empty lines across the files (oldest first), reading each file from its end. */
export async function lastLines(files: readonly string[], count: number): Promise<string[]> {
  const found: string[] = [];
  for (let f = files.length - 1; f >= 0 && found.length < count; f--) {
    const lines = await lastLinesOf(files[f]!, count - found.length);
    found.unshift(...lines);
  }
  return found;
}

async function lastLinesOf(file: string, count: number): Promise<string[]> {
  const handle = await open(file, 'r');
  try {
    let position = (await handle.stat()).size;
    let tail = Buffer.alloc(0);
    let lines: string[] = [];
    while (position > 0) {
      const length = Math.min(CHUNK_BYTES, position);
      position -= length;
      const chunk = Buffer.alloc(length);
      await handle.read(chunk, 0, length, position);
      tail = Buffer.concat([chunk, tail]);
      lines = tail
        .toString('utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
      // The first line may be cut off until we reach the start of the file or a newline before it.
      if (lines.length > count) break;
    }
    return lines.slice(-count);
  } finally {
    await handle.close();
  }
}

/**
 * Calls `onLine` for each line appended to `path` from its current end, until `signal` aborts.
 * Follows rotation like `tail -F`: when the path names a new file (or the file shrank), the
 * rest of the old one is read, then the new one from its start.
 */
export async function followLines(
  path: string,
  onLine: (line: string) => void,
  signal: AbortSignal,
  pollMs = 200,
): Promise<void> {
  let handle = await open(path, 'r').catch(() => undefined);
  let position = handle ? (await handle.stat()).size : 0;
  let partial = '';
  const readNew = async (): Promise<void> => {
    if (!handle) return;
    for (;;) {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      const text = partial + chunk.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onLine(line);
    }
  };
  try {
    while (!signal.aborted) {
      await readNew();
      const current = await stat(path).catch(() => undefined);
      const opened = handle ? await handle.stat() : undefined;
      if (current && (!opened || current.ino !== opened.ino || current.size < position)) {
        await readNew(); // the rest of the rotated file
        await handle?.close();
        handle = await open(path, 'r').catch(() => undefined);
        position = 0;
        partial = '';
        continue;
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await handle?.close();
  }
}
