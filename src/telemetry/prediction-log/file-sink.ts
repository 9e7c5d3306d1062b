import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RecordSink } from './writer.js';

export interface RotatingFileOptions {
  path: string;
  /** The live file is rotated before a line would take it past this size (a single longer line still goes in whole). */
  rotateBytes: number;
  /** Files kept, the live one included: `path`, `path.1`, … `path.(keepFiles - 1)`. */
  keepFiles: number;
  /** Opens the file for appending; tests give a file that fails part-way, as a full disk does. */
  open?: (path: string) => Promise<LogFile>;
}

/** The slice of a FileHandle the sink uses. */
export interface LogFile {
  /** Writes `length` bytes of `buffer` from `offset` at the end; may take fewer (a short write). */
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** The rotated sibling `n` of a log file (0 is the live file). */
export const rotatedPath = (path: string, n: number): string => (n === 0 ? path : `${path}.${n}`);

/**
 * JSON Lines appended to a file, rotated by size like logrotate's numbered scheme: `path` → `path.1`
 * → `path.2`, the oldest deleted. Opened on first use, so with Redis configured the spill file
 * exists only once something spilled. One writer per file: each gateway process its own path.
 */
export class RotatingFileSink implements RecordSink {
  readonly name = 'file';
  private handle: LogFile | undefined;
  private size = 0;
  /** After a failed write the file may end mid-line; the next write starts a fresh line. */
  private dirty = false;

  constructor(private readonly options: RotatingFileOptions) {}

  async write(lines: readonly string[]): Promise<readonly string[]> {
    let done = 0;
    try {
      await this.ensureOpen();
      while (done < lines.length) {
        // The lines that fit before the next rotation, as one write.
        let chunk = this.dirty ? '\n' : '';
        let chunkBytes = chunk.length;
        let count = 0;
        for (let i = done; i < lines.length; i++) {
          const bytes = Buffer.byteLength(lines[i]!) + 1;
          if (this.size + chunkBytes + bytes > this.options.rotateBytes && this.size + chunkBytes > 0) break;
          chunk += `${lines[i]!}\n`;
          chunkBytes += bytes;
          count++;
        }
        if (count > 0) {
          const buffer = Buffer.from(chunk);
          this.dirty = true;
          await this.handle!.write(buffer, 0, buffer.length);
          this.dirty = false;
          this.size += buffer.length;
          done += count;
        }
        if (done < lines.length) await this.rotate();
      }
      return [];
    } catch {
      // The caller counts and reports what was not written; reopen on the next batch.
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
      return lines.slice(done);
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async ensureOpen(): Promise<void> {
    if (this.handle) return;
    await mkdir(dirname(this.options.path), { recursive: true });
    this.handle = await (this.options.open ?? ((path) => open(path, 'a')))(this.options.path);
    this.size = (await this.handle.stat()).size;
  }

  private async rotate(): Promise<void> {
    const { path, keepFiles } = this.options;
    await this.close();
    if (keepFiles <= 1) {
      await rm(path, { force: true });
    } else {
      for (let n = keepFiles - 1; n >= 1; n--) {
        await rename(rotatedPath(path, n - 1), rotatedPath(path, n)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        });
      }
    }
    this.dirty = false;
    await this.ensureOpen();
  }
}
