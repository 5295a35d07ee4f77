/**
 * A container's root filesystem: an overlay of the image's layer snapshots (read-only lower
 * dirs, top first) under the container's own writable layer (`upper/`, with overlay's
 * `work/`), mounted at `rootfs/` while the container runs — moby's overlay2 layout, so the
 * mount lives in the data root next to the layer it shows.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { lstat, mkdir, opendir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { SystemError } from '../api/errors.js';
import { isErrnoError, MNT, mount, umount2 } from '../os/libc.js';

export interface RootfsPaths {
  upper: string;
  work: string;
  rootfs: string;
  /** Holds an empty lower dir for images without layers (overlay needs one). */
  empty: string;
}

export function rootfsPaths(containerDir: string): RootfsPaths {
  return {
    upper: join(containerDir, 'upper'),
    work: join(containerDir, 'work'),
    rootfs: join(containerDir, 'rootfs'),
    empty: join(containerDir, 'empty'),
  };
}

/** The page-sized limit of mount(2)'s data, with room to spare. */
const MAX_MOUNT_DATA = 4000;

export function isMountPoint(path: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[4]?.replace(/\\040/g, ' ') === path);
  } catch {
    return false;
  }
}

export interface MountOptions {
  /**
   * For a layer that is thrown away after the run (`--rm`): overlay's `volatile` skips every
   * sync, above all the sync of the whole upper filesystem (the data root's) that unmounting
   * an overlay does — tens of milliseconds on a busy disk. Ignored by kernels before 5.10.
   */
  volatile?: boolean;
}

/** The marker a volatile mount leaves in its workdir; overlay refuses any later mount while it exists. */
const VOLATILE_MARKER = ['work', 'incompat'];

/**
 * Mounts the overlay at `paths.rootfs`. When the options would not fit in one page, the
 * paths are given relative to `base` (their common ancestor, the data root) by `mount` run
 * there.
 */
export async function mountRootfs(
  paths: RootfsPaths,
  lowerDirs: string[],
  base: string,
  options: MountOptions = {},
): Promise<void> {
  for (const d of [paths.upper, paths.work, paths.rootfs]) await mkdir(d, { recursive: true });
  if (isMountPoint(paths.rootfs)) return;
  // Only layers that are discarded are mounted volatile, so their marker guards nothing.
  rmSync(join(paths.work, ...VOLATILE_MARKER), { recursive: true, force: true });
  let lowers = lowerDirs;
  if (lowers.length === 0) {
    await mkdir(paths.empty, { recursive: true });
    lowers = [paths.empty];
  }
  const opts = (rel: (p: string) => string, volatile: boolean) =>
    `lowerdir=${lowers.map(rel).join(':')},upperdir=${rel(paths.upper)},workdir=${rel(paths.work)}${volatile ? ',volatile' : ''}`;
  const absolute = opts((p) => p, options.volatile === true);
  if (absolute.length <= MAX_MOUNT_DATA) {
    try {
      mount('overlay', paths.rootfs, 'overlay', 0, absolute);
      return;
    } catch (err) {
      if (options.volatile && isErrnoError(err) && err.code === 'EINVAL') {
        return mountRootfs(paths, lowerDirs, base); // a kernel without `volatile`
      }
      throw new SystemError(`mounting the container's rootfs failed: ${(err as Error).message}`);
    }
  }
  await new Promise<void>((resolve, reject) => {
    execFile(
      'mount',
      ['-t', 'overlay', 'overlay', '-o', opts((p) => relative(base, p), false), paths.rootfs],
      { cwd: base, timeout: 30_000 },
      (err, _out, stderr) => {
        if (err)
          reject(
            new SystemError(`mounting the container's rootfs failed: ${stderr || err.message}`),
          );
        else resolve();
      },
    );
  });
}

/** Unmounts the rootfs if mounted; lazily when busy (a process of ours may still hold it). */
export function unmountRootfs(paths: RootfsPaths): void {
  if (!isMountPoint(paths.rootfs)) return;
  try {
    umount2(paths.rootfs);
  } catch {
    try {
      umount2(paths.rootfs, MNT.DETACH);
    } catch {
      // already gone
    }
  }
}

/** Apparent size of the files under `dir` (each hardlinked inode once), as Docker's SizeRw. */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let handle;
    try {
      handle = await opendir(d);
    } catch {
      return;
    }
    for await (const entry of handle) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        await walk(p);
        continue;
      }
      try {
        const st = await lstat(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1) {
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.size;
      } catch {
        // removed meanwhile
      }
    }
  };
  await walk(dir);
  return total;
}
