/**
 * Layer snapshots (containerd's "snapshotter", overlay flavour). A committed snapshot is the
 * unpacked content of one layer, named by the layer's chain ID, whose parent is the snapshot
 * of the layers below it; mounting it means overlayfs with the parents' dirs as lowerdirs.
 * Whiteouts are stored the overlayfs way (char device 0/0; `trusted.overlay.opaque=y`).
 *
 * Terms: *name* names a committed snapshot (a chain ID for image layers); *parent* is the
 * name of the snapshot directly below it. A snapshot being written has no name yet: it lives
 * in a `.tmp-*` directory until it is complete and verified.
 *
 * Contract: a snapshot is listed as committed only after its content was completely written,
 * its diff ID verified and its metadata made durable; `repair()` at start removes whatever a
 * crash left in `.tmp-*` directories, so nothing half-unpacked is ever trusted.
 *
 * On-disk layout under the root (as containerd's overlay snapshotter, short numeric ids keep
 * overlay's `lowerdir=` option short):
 *   snapshots/<n>/fs          the layer's files
 *   snapshots/<n>/meta.json   { name, parent, size, created, diffId }
 *   snapshots/.tmp-<n>/       being unpacked, or being removed; deleted by repair()
 * Commit = syncfs + fsync(meta.json) + rename(.tmp-<n> → <n>) + fsync(snapshots/).
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, opendir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ConflictError, NotFoundError, SystemError } from '../api/errors.js';
import type { Digest } from '../images/oci.js';
import { digestSchema } from '../images/oci.js';
import { syncfs } from '../os/libc.js';
import { applyLayer } from './apply-layer.js';
import { decompressLayer } from './decompress.js';

export interface SnapshotInfo {
  name: string;
  parent?: string;
  /**
   * Bytes of this snapshot's own files (not its parents'), counted as Docker counts a layer:
   * apparent file sizes, directories excluded, each hardlinked inode once.
   */
  size: number;
  created: string;
  /** The diff ID the content was verified against. */
  diffId?: Digest;
}

/** One layer to unpack. */
export interface LayerSource {
  /**
   * The layer blob as stored: gzip, zstd or plain tar, told by its magic bytes. It is consumed,
   * or destroyed unread when the snapshot already exists or another call is unpacking it.
   */
  stream: Readable;
  /** The image config's `rootfs.diff_ids` entry: sha256 of the uncompressed tar. */
  diffId: Digest;
  /** The layer descriptor's media type, if known; only used to refuse unknown formats early. */
  mediaType?: string;
  /** Uncompressed tar bytes read so far. */
  onProgress?: (tarBytes: number) => void;
  /** Entries applied only in part (device nodes, xattrs this host refuses). */
  onWarning?: (message: string) => void;
}

export interface Snapshotter {
  repair(): Promise<void>;
  stat(name: string): Promise<SnapshotInfo | undefined>;
  /**
   * Creates committed snapshot `name` on top of committed snapshot `parent` from a layer blob:
   * decompresses it, applies it with the hostile-archive checks of `applyLayer`, verifies the
   * tar's sha256 against `layer.diffId`, commits. On any failure nothing is left and it rejects
   * (a diff ID mismatch is a SystemError). Idempotent: resolves at once when `name` exists;
   * concurrent calls for one name share the work. `parent` may still be unpacking (a call for
   * it was made first): the layer is applied meanwhile and committed after its parent.
   * NotFoundError when `parent` neither exists nor is being unpacked, or its unpack failed.
   */
  unpack(name: string, parent: string | undefined, layer: LayerSource): Promise<SnapshotInfo>;
  /** `fs` directories from `name` down to the base, the order of overlay's `lowerdir=`. */
  lowerDirs(name: string): Promise<string[]>;
  /** NotFoundError when absent; ConflictError while a child snapshot exists. */
  remove(name: string): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
}

const metaSchema = z.object({
  name: z.string().min(1),
  parent: z.string().min(1).optional(),
  size: z.number().int().nonnegative(),
  created: z.string(),
  diffId: digestSchema.optional(),
});

interface Committed {
  id: number;
  info: SnapshotInfo;
}

interface Unpacking {
  parent: string | undefined;
  done: Promise<SnapshotInfo>;
}

const TMP_PREFIX = '.tmp-';
const META = 'meta.json';

export class OverlaySnapshotter implements Snapshotter {
  private readonly dir: string;
  private index: Promise<Map<string, Committed>> | undefined;
  private nextId = 1;
  /** Numbered dirs without valid metadata, found by the last load; repair() deletes them. */
  private broken: string[] = [];
  private readonly unpacking = new Map<string, Unpacking>();

  /** `root` is the snapshotter's own directory, e.g. `<data-root>/snapshots`. */
  constructor(root: string) {
    this.dir = join(root, 'snapshots');
  }

  async repair(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TMP_PREFIX))
        await rm(join(this.dir, name), { recursive: true, force: true });
    }
    this.index = undefined;
    await this.load();
    for (const dir of this.broken.splice(0)) await rm(dir, { recursive: true, force: true });
  }

  async stat(name: string): Promise<SnapshotInfo | undefined> {
    return (await this.load()).get(name)?.info;
  }

  async list(): Promise<SnapshotInfo[]> {
    return [...(await this.load()).values()].map((c) => c.info);
  }

  async unpack(
    name: string,
    parent: string | undefined,
    layer: LayerSource,
  ): Promise<SnapshotInfo> {
    const index = await this.load();
    const existing = index.get(name)?.info ?? this.unpacking.get(name)?.done;
    if (existing !== undefined) {
      layer.stream.destroy();
      return existing;
    }
    // No await between the checks above and this registration: concurrent callers see it.
    const done = this.doUnpack(index, name, parent, layer).finally(() =>
      this.unpacking.delete(name),
    );
    this.unpacking.set(name, { parent, done });
    return done;
  }

  async lowerDirs(name: string): Promise<string[]> {
    const index = await this.load();
    const dirs: string[] = [];
    for (let cur: string | undefined = name; cur !== undefined;) {
      const c = index.get(cur);
      if (c === undefined) {
        throw new NotFoundError(cur === name ? noSuch(name) : `${noSuch(cur)} (parent of ${name})`);
      }
      if (dirs.length > index.size) throw new SystemError(`snapshot ${name} has a parent cycle`);
      dirs.push(this.fsDir(c.id));
      cur = c.info.parent;
    }
    return dirs;
  }

  async remove(name: string): Promise<void> {
    const index = await this.load();
    const c = index.get(name);
    if (c === undefined) throw new NotFoundError(noSuch(name));
    const child =
      [...index.values()].find((o) => o.info.parent === name)?.info.name ??
      [...this.unpacking].find(([, u]) => u.parent === name)?.[0];
    if (child !== undefined) {
      throw new ConflictError(`snapshot ${name} is in use: it is the parent of snapshot ${child}`);
    }
    // Renamed first, so a crash mid-delete leaves a .tmp- dir for repair(), not half a snapshot.
    const doomed = join(this.dir, `${TMP_PREFIX}rm-${c.id}`);
    await rename(join(this.dir, String(c.id)), doomed);
    index.delete(name);
    await fsyncPath(this.dir);
    await rm(doomed, { recursive: true, force: true });
  }

  private fsDir(id: number): string {
    return join(this.dir, String(id), 'fs');
  }

  private load(): Promise<Map<string, Committed>> {
    this.index ??= this.readIndex().catch((err: unknown) => {
      this.index = undefined;
      throw err;
    });
    return this.index;
  }

  private async readIndex(): Promise<Map<string, Committed>> {
    await mkdir(this.dir, { recursive: true });
    const index = new Map<string, Committed>();
    this.broken = [];
    for (const entry of await readdir(this.dir)) {
      const n = /^(?:\.tmp-(?:rm-)?)?(\d+)$/.exec(entry);
      if (n) this.nextId = Math.max(this.nextId, Number(n[1]) + 1);
      if (!/^\d+$/.test(entry)) continue;
      const id = Number(entry);
      const parsed = await readFile(join(this.dir, entry, META), 'utf8')
        .then(
          (raw) => metaSchema.safeParse(JSON.parse(raw)),
          () => undefined,
        )
        .catch(() => undefined);
      if (!parsed?.success) {
        this.broken.push(join(this.dir, entry));
        continue;
      }
      const info: SnapshotInfo = { ...parsed.data };
      if (info.parent === undefined) delete info.parent;
      if (info.diffId === undefined) delete info.diffId;
      index.set(info.name, { id, info });
    }
    return index;
  }

  private async doUnpack(
    index: Map<string, Committed>,
    name: string,
    parent: string | undefined,
    layer: LayerSource,
  ): Promise<SnapshotInfo> {
    const id = this.nextId++;
    const tmp = join(this.dir, `${TMP_PREFIX}${id}`);
    try {
      if (parent !== undefined && !index.has(parent) && !this.unpacking.has(parent)) {
        throw new NotFoundError(`parent ${noSuch(parent)}`);
      }
      const fs = join(tmp, 'fs');
      await mkdir(fs, { recursive: true, mode: 0o700 });
      const tar = await decompressLayer(layer.stream, layer.mediaType);
      const result = await applyLayer(tar, fs, {
        ...(layer.onProgress && { onProgress: layer.onProgress }),
        ...(layer.onWarning && { onWarning: layer.onWarning }),
      });
      if (result.diffId !== layer.diffId) {
        throw new SystemError(
          `wrong diff id calculated on extraction: expected ${layer.diffId}, got ${result.diffId}`,
        );
      }
      const info: SnapshotInfo = {
        name,
        ...(parent !== undefined && { parent }),
        size: await usage(fs),
        created: new Date().toISOString(),
        diffId: result.diffId,
      };
      await syncFilesystem(fs);
      // A layer's content does not depend on its parent's, so layers are applied concurrently;
      // only the commit waits, so that a snapshot is never visible before its parent.
      if (parent !== undefined) {
        await this.unpacking.get(parent)?.done.catch(() => undefined);
        if (!index.has(parent)) throw new NotFoundError(`parent ${noSuch(parent)}`);
      }
      await writeDurably(join(tmp, META), JSON.stringify(info));
      await rename(tmp, join(this.dir, String(id)));
      await fsyncPath(this.dir);
      index.set(name, { id, info });
      return info;
    } catch (err) {
      layer.stream.destroy();
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}

function noSuch(name: string): string {
  return `snapshot ${name} does not exist`;
}

/** Apparent size of the files under `dir`, as moby's directory.Size counts it. */
async function usage(dir: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const stack = [dir];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    for await (const entry of await opendir(d)) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        stack.push(path);
        continue;
      }
      const st = await lstat(path);
      if (st.size === 0) continue;
      if (st.nlink > 1) {
        if (seen.has(st.ino)) continue;
        seen.add(st.ino);
      }
      total += st.size;
    }
  }
  return total;
}

/** Makes the unpacked files durable before the metadata that vouches for them. */
async function syncFilesystem(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await syncfs(fh.fd);
  } finally {
    await fh.close();
  }
}

async function writeDurably(path: string, data: string): Promise<void> {
  const fh = await open(path, 'wx', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
