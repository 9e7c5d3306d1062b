import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export class ChangedMeanwhileError extends Error {}

/**
 * Replaces the file at `path` with `text` in one rename, so a gateway watching it reads the old
 * file or the new one, never half of one. The temp file sits in the same directory (a rename
 * across filesystems is a copy), takes the file's mode, and is synced before the rename. A symlink
 * at `path` is kept: its target is replaced. When the file no longer holds `expected` (someone
 * else saved it since it was read), nothing is written.
 */
export async function replaceFileAtomically(path: string, text: string, expected: string): Promise<void> {
  const target = await realpath(path);
  const { mode } = await stat(target);
  const temp = join(
    dirname(target),
    `.${basename(target)}.rollout-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  const handle = await open(temp, 'wx', mode & 0o777);
  try {
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if ((await readFile(target, 'utf8')) !== expected) {
      throw new ChangedMeanwhileError(
        `${path} changed while it was being edited; nothing written, run again`,
      );
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
