/**
 * Docker's volume copy-up: when an empty volume is mounted over a directory that has content
 * in the image, that content is copied into the volume first (modes, ownership, times,
 * symlinks, hard links, device nodes and FIFOs preserved), and the volume's root takes the
 * directory's mode and owner.
 *
 * The rootfs is untrusted: the mount point is resolved inside it (resolveInRoot), and the walk
 * never follows a symlink — links are recreated as links, so nothing outside the rootfs is read.
 */
import {
  chmod,
  copyFile,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  symlink,
  utimes,
} from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { resolveInRoot } from '../containers/rootfs-path.js';
import { mknod, S_IF } from '../os/libc.js';

/** True when `dir` has no entries (a missing dir counts as empty). */
export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

/**
 * Copies what the image has at container path `destination` (inside `rootfs`) into the volume
 * directory `volumeDir`. Does nothing when the path is missing or not a directory. Returns
 * whether anything was copied.
 */
export async function copyImageContent(
  rootfs: string,
  destination: string,
  volumeDir: string,
): Promise<boolean> {
  const resolved = await resolveInRoot(rootfs, destination);
  if (resolved.missing) return false;
  const st = await lstat(resolved.onHost, { bigint: true });
  if (!st.isDirectory()) return false;
  const links = new Map<string, string>();
  await copyDirContents(resolved.onHost, volumeDir, links);
  await applyMeta(volumeDir, st, false);
  return true;
}

async function copyDirContents(
  from: string,
  to: string,
  links: Map<string, string>,
): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const st = await lstat(src, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (!st.isDirectory() && st.nlink > 1n) {
      const first = links.get(key);
      if (first !== undefined) {
        await link(first, dst);
        continue;
      }
      links.set(key, dst);
    }
    if (st.isDirectory()) {
      await mkdir(dst, { mode: 0o700 });
      await copyDirContents(src, dst, links);
    } else if (st.isSymbolicLink()) {
      await symlink(await readlink(src), dst);
    } else if (st.isFile()) {
      await copyFile(src, dst);
    } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const kind = st.isFIFO() ? S_IF.FIFO : st.isCharacterDevice() ? S_IF.CHR : S_IF.BLK;
      const rdev = Number(st.rdev);
      // glibc's major()/minor() of a dev_t.
      const major = ((rdev >>> 8) & 0xfff) | Number((st.rdev >> 32n) & ~0xfffn);
      const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
      mknod(dst, kind | Number(st.mode & 0o7777n), major, minor);
    } else {
      continue; // sockets are not copied (moby skips them too)
    }
    await applyMeta(dst, st, st.isSymbolicLink());
  }
}

async function applyMeta(path: string, st: BigIntStats, isLink: boolean): Promise<void> {
  await lchown(path, Number(st.uid), Number(st.gid));
  if (isLink) {
    await lutimes(path, st.atime, st.mtime);
    return;
  }
  // chown clears setuid/setgid bits, so the mode goes after it.
  await chmod(path, Number(st.mode & 0o7777n));
  await utimes(path, st.atime, st.mtime);
}
