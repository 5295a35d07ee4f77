/**
 * The merged root filesystem of a container for file operations (cp, export), whether it runs
 * or not. A running container's overlay is mounted by the container service; a stopped one's
 * is mounted here, at the same place and with the same layers, for as long as operations need
 * it, then unmounted — unless the container started meanwhile (its run owns the mount then).
 */
import { isMountPoint, mountRootfs, rootfsPaths, unmountRootfs } from './rootfs.js';
import type { ContainerView } from './service.js';

const users = new Map<string, number>();

/**
 * Runs `fn` with the host path of the container's merged rootfs. `isRunning` is asked at the
 * end, so a mount made here is left to a run that started in between.
 */
export async function withRootfs<T>(
  view: ContainerView,
  dataRoot: string,
  isRunning: () => boolean,
  fn: (rootfs: string) => Promise<T>,
): Promise<T> {
  const paths = rootfsPaths(view.bundle);
  if (view.running && isMountPoint(paths.rootfs)) return fn(paths.rootfs);
  users.set(view.id, (users.get(view.id) ?? 0) + 1);
  try {
    if (!isMountPoint(paths.rootfs)) await mountRootfs(paths, await view.lowerDirs(), dataRoot);
    return await fn(paths.rootfs);
  } finally {
    const left = (users.get(view.id) ?? 1) - 1;
    if (left > 0) users.set(view.id, left);
    else {
      users.delete(view.id);
      if (!isRunning()) unmountRootfs(paths);
    }
  }
}
