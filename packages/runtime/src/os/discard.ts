/**
 * Deleting a directory tree costs an unlink per file, milliseconds each on a busy disk, on the
 * caller's critical path. discardDir() renames the tree aside instead — one rename, after which
 * no reader finds it — and deletes it in the background; sweepDiscarded() finishes what a crash
 * left behind. The tree must stay on its parent's filesystem (rename(2) does not cross them).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const PREFIX = '.discarded-';

/**
 * Moves `dir` out of the way at once (a missing `dir` is fine); the returned promise settles
 * when it is deleted, and never rejects — callers may leave it floating with `void`.
 */
export function discardDir(dir: string): Promise<void> {
  const aside = join(dirname(dir), `${PREFIX}${basename(dir)}-${randomBytes(4).toString('hex')}`);
  try {
    renameSync(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve();
    // Not renamable (e.g. a mount point): delete it in place.
    return rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return rm(aside, { recursive: true, force: true }).catch(() => undefined);
}

/** Deletes, in the background, what discardDir left in `parent` when the process died. */
export function sweepDiscarded(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(PREFIX)) void rm(join(parent, n), { recursive: true, force: true });
  }
}
