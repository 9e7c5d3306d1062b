/** What the scan needs of an open file. */
export interface ReadableFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

const NEWLINE = 0x0a;
const SCAN_BYTES = 64 * 1024;

/**
 * The offset just past the file's last newline: its size when it ends with one, 0 when it holds
 * no whole line. Reads backwards from the end in 64 KiB steps, so a file of whole lines costs
 * one one-byte read. A JSON line never holds a raw newline (JSON.stringify escapes it), so a
 * newline is always the end of a record.
 */
export async function lastLineEnd(file: ReadableFile, size: number): Promise<number> {
  if (size === 0) return 0;
  const last = Buffer.alloc(1);
  await file.read(last, 0, 1, size - 1);
  if (last[0] === NEWLINE) return size;
  const buffer = Buffer.alloc(Math.min(SCAN_BYTES, size));
  for (let end = size - 1; end > 0;) {
    const start = Math.max(0, end - buffer.length);
    const { bytesRead } = await file.read(buffer, 0, end - start, start);
    const at = buffer.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}
