/**
 * `docker export`: the container's merged root filesystem as one tar (the image's layers with
 * the container's changes on top), running or stopped — moby's containerExport. Volumes and
 * the runtime's bind mounts are not part of it: the overlay is read from the host, outside
 * the container's mount namespace.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packTree } from './archive.js';
import { withRootfs } from './rootfs-access.js';
import type { ContainerView } from './service.js';

/** Streams the tar of `view`'s rootfs into `out`; resolves when it was written whole. */
export async function exportContainer(
  view: ContainerView,
  dataRoot: string,
  isRunning: () => boolean,
  out: Writable,
  onWarning?: (message: string) => void,
): Promise<void> {
  await withRootfs(view, dataRoot, isRunning, (rootfs) =>
    pipeline(packTree(rootfs, onWarning ? { onWarning } : {}), out),
  );
}
