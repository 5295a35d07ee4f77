/**
 * Layer snapshots (containerd's "snapshotter", overlay flavour). A committed snapshot is the
 * unpacked content of one layer, named by the layer's chain ID, whose parent is the snapshot
 * of the layers below it; mounting it means overlayfs with the parents' dirs as lowerdirs.
 * Whiteouts are stored the overlayfs way (char device 0/0; `trusted.overlay.opaque=y`).
 *
 * Terms: *key* names an active (writable) snapshot being prepared; *name* names a committed
 * one (a chain ID for image layers). Contract: a snapshot is listed as committed only after
 * its content was completely written; `repair()` at start removes active snapshots left by a
 * crash, so nothing half-unpacked is ever trusted.
 */
import type { Readable } from 'node:stream';

export interface SnapshotInfo {
  name: string;
  parent?: string;
  /** Bytes used by this snapshot's own directory (not its parents). */
  size: number;
  created: string;
}

export interface Snapshotter {
  repair(): Promise<void>;
  stat(name: string): Promise<SnapshotInfo | undefined>;
  /**
   * Creates committed snapshot `name` on top of `parent` from an uncompressed layer tar,
   * applying it with the hostile-archive checks of `applyLayer`. Idempotent: resolves at once
   * when `name` exists; concurrent calls for one name share the work.
   */
  unpack(name: string, parent: string | undefined, tar: Readable): Promise<SnapshotInfo>;
  /** Directories from the top snapshot down to the base, for overlay `lowerdir=`. */
  lowerDirs(name: string): Promise<string[]>;
  remove(name: string): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
}
