/**
 * Writes a directory tree as a tar stream — the one tar writer behind `docker export` (the
 * merged rootfs), `docker commit` (the container's overlay upper dir, whiteouts turned back
 * into `.wh.` entries) and `docker cp` out of a container (one path, renamed).
 *
 * The tree may belong to a running container, so it can change while it is read: nothing here
 * follows a symlink (lstat, O_NOFOLLOW), a file that shrank is padded and one that grew is cut
 * at the size its header announced, and entries that vanished meanwhile are skipped.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { lgetxattr } from '../os/libc.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from '../storage/apply-layer.js';

export interface PackOptions {
  /**
   * The archive name of `root` itself. Undefined: the root gets no entry and its children are
   * named relative to it (`bin/`, `etc/passwd`), as layers and exports are. A name (`etc`,
   * `passwd`): the root is the first entry under that name, its children below it (cp).
   */
  rebaseName?: string;
  /** `root` is an overlay upper dir: write its whiteouts and opaque dirs as `.wh.` entries. */
  whiteouts?: boolean;
  /** Paths relative to `root` (`etc/hosts`) to leave out, with everything below them. */
  exclude?: (rel: string) => boolean;
  /** Told about entries skipped (sockets, files that vanished meanwhile). */
  onWarning?: (message: string) => void;
}

type TarHeader = Partial<tar.Header> & { name: string };

const EMPTY = Buffer.alloc(0);
const CHUNK = 64 * 1024;

/** Linux's dev_t split (glibc's gnu_dev_major/minor). */
export function devNumbers(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return { major, minor };
}

/** An overlay whiteout: a character device 0/0. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether directory `path` is marked opaque (hides the lower layers' content of it). */
export function isOpaqueDir(path: string): boolean {
  try {
    return lgetxattr(path, OVERLAY_OPAQUE_XATTR).toString() === 'y';
  } catch {
    return false;
  }
}

function addEntry(pack: tar.Pack, header: TarHeader, body: Buffer = EMPTY): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
  });
}

/** Streams exactly `size` bytes of the file at `path` into a new entry (padding if it shrank). */
async function addFile(pack: tar.Pack, header: TarHeader, path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (vanished(err)) return false;
    throw err;
  }
  try {
    const size = header.size ?? 0;
    let sink!: ReturnType<tar.Pack['entry']>;
    const done = new Promise<void>((resolve, reject) => {
      sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
    let written = 0;
    while (written < size) {
      const buf = Buffer.alloc(Math.min(CHUNK, size - written));
      const { bytesRead } = await fh.read(buf, 0, buf.length, written);
      // A file truncated meanwhile: the header's size is binding, so pad with zeros.
      const chunk = bytesRead === 0 ? buf : buf.subarray(0, bytesRead);
      written += chunk.length;
      if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
    }
    sink.end(undefined);
    await done;
    return true;
  } finally {
    await fh.close();
  }
}

function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}

class TreeWriter {
  /** dev:ino → archive name of the first path seen, for hardlinks. */
  private readonly inodes = new Map<string, string>();

  constructor(
    private readonly pack: tar.Pack,
    private readonly opts: PackOptions,
  ) {}

  private header(name: string, st: Stats): TarHeader {
    return {
      name,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: st.mtime,
    };
  }

  /** Writes `path` (archive name `name`, relative path `rel`) and, for a directory, its tree. */
  async write(path: string, name: string, rel: string): Promise<void> {
    let st: Stats;
    try {
      st = await lstat(path);
    } catch (err) {
      if (vanished(err)) return;
      throw err;
    }
    const h = this.header(name, st);
    if (st.isDirectory()) {
      if (name !== '') await addEntry(this.pack, { ...h, name: `${name}/`, type: 'directory' });
      if (this.opts.whiteouts && name !== '' && isOpaqueDir(path)) {
        await addEntry(this.pack, {
          ...h,
          name: `${name}/${WHITEOUT_OPAQUE}`,
          type: 'file',
          size: 0,
          mode: 0o644,
        });
      }
      await this.writeChildren(path, name, rel);
      return;
    }
    if (this.opts.whiteouts && isWhiteout(st)) {
      const slash = name.lastIndexOf('/');
      const wh = `${name.slice(0, slash + 1)}${WHITEOUT_PREFIX}${name.slice(slash + 1)}`;
      await addEntry(this.pack, { ...h, name: wh, type: 'file', size: 0, mode: 0o644 });
      return;
    }
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.inodes.get(key);
      if (first !== undefined) {
        await addEntry(this.pack, { ...h, type: 'link', linkname: first, size: 0 });
        return;
      }
      this.inodes.set(key, name);
    }
    if (st.isFile()) {
      if (!(await addFile(this.pack, { ...h, type: 'file', size: st.size }, path))) {
        this.opts.onWarning?.(`skipped ${rel}: it vanished while being archived`);
      }
    } else if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = await readlink(path);
      } catch (err) {
        if (vanished(err)) return;
        throw err;
      }
      await addEntry(this.pack, { ...h, type: 'symlink', linkname: target });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const { major, minor } = devNumbers(st.rdev);
      const type = st.isCharacterDevice() ? 'character-device' : 'block-device';
      await addEntry(this.pack, { ...h, type, devmajor: major, devminor: minor });
    } else if (st.isFIFO()) {
      await addEntry(this.pack, { ...h, type: 'fifo' });
    } else {
      // Sockets cannot be archived (GNU tar and moby skip them too).
      this.opts.onWarning?.(`skipped ${rel}: a socket`);
    }
  }

  private async writeChildren(dir: string, name: string, rel: string): Promise<void> {
    const names: string[] = [];
    try {
      for await (const e of await opendir(dir)) names.push(e.name);
    } catch (err) {
      if (vanished(err)) return;
      throw err;
    }
    names.sort();
    for (const child of names) {
      const childRel = rel === '' ? child : `${rel}/${child}`;
      if (this.opts.exclude?.(childRel)) continue;
      await this.write(join(dir, child), name === '' ? child : `${name}/${child}`, childRel);
    }
  }
}

/**
 * The tar stream of the tree at `root` (a directory, or any single file for cp). Errors while
 * reading destroy the stream with that error.
 */
export function packTree(root: string, opts: PackOptions = {}): tar.Pack {
  const pack = tar.pack();
  const writer = new TreeWriter(pack, opts);
  writer.write(root, opts.rebaseName ?? '', '').then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return pack;
}
