/**
 * Applies one uncompressed OCI layer tar onto a directory, converting the layer's whiteouts
 * to the overlayfs form, and returns the layer's diff ID (sha256 of the tar bytes).
 *
 * The archive is hostile until proven otherwise: whatever it contains, nothing may be created
 * or changed outside `dir`. The rules that guarantee it (compare moby's pkg/archive and
 * containerd's archive/tar.go):
 * - Entry names are normalised; a name that climbs out of the root with `..` is refused, and a
 *   leading `/` is dropped (as moby and GNU tar do).
 * - Parents are resolved one component at a time with lstat, and never through a symlink or a
 *   non-directory: `link -> /etc` followed by `link/passwd` is refused, not followed.
 * - A node is created only after unlinking what is there, and files are opened with
 *   O_CREAT|O_EXCL|O_NOFOLLOW, so an existing symlink is replaced, never written through.
 * - Hardlink targets obey the same rules as names; link(2) does not follow a symlink target.
 * - The root itself is never replaced (a symlink named `.`: CVE-2021-29136).
 * - Whiteout names must name a real sibling (`.wh.`, `.wh..` are refused).
 * - `trusted.overlay.*` xattrs from the archive are dropped: only the conversion below may
 *   produce overlay metadata.
 * Symlink *targets* are stored as they are, even absolute or climbing ones: nothing here
 * follows them, and inside the container they resolve under its root.
 *
 * Nothing else writes into `dir` while a layer is applied (the snapshotter gives each unpack a
 * fresh directory), so a check made with lstat still holds when the next call uses it.
 */
import { constants } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import type { Extract, Header } from 'tar-stream';
import { SystemError } from '../api/errors.js';
import type { Digest } from '../images/oci.js';
import { isErrnoError, lsetxattr, mknod, S_IF } from '../os/libc.js';
import { BatchedWriter } from './batched-writer.js';
import { createStreamHash } from './sha256.js';

export interface ApplyLayerOptions {
  /** Told about entries applied only in part (device nodes, xattrs) where this host forbids them. */
  onWarning?: (message: string) => void;
  /** Called as the tar is read, with the count of tar bytes read so far. */
  onProgress?: (bytes: number) => void;
  /** Set owners from the archive. Default: only when running as root (like rootless docker). */
  sameOwner?: boolean;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar stream: compare with the image config's `rootfs.diff_ids`. */
  diffId: Digest;
  /** Bytes of the uncompressed tar stream. */
  size: number;
}

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

/** One entry's data stream, as tar-stream's extract yields it. */
type Entry = Extract extends AsyncIterable<infer T> ? T : never;
/** The header as tar-stream really fills it: unknown types and absent link names are null. */
type EntryHeader = Omit<Header, 'pax' | 'type' | 'linkname'> & {
  type: Header['type'] | null;
  linkname: string | null;
  pax?: Record<string, string> | null;
};

function unsafe(name: string, why: string): SystemError {
  return new SystemError(`unsafe layer entry ${JSON.stringify(name)}: ${why}`);
}

/**
 * The entry's path relative to the root, normalised ('' is the root itself); refuses names
 * that leave the root.
 */
export function normaliseEntryName(name: string): string {
  if (name.includes('\0')) throw unsafe(name, 'name contains a NUL byte');
  const p = posix.normalize(name.replace(/^\/+/, ''));
  if (p === '..' || p.startsWith('../')) throw unsafe(name, 'path escapes the layer root');
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '.' || trimmed === '' ? '' : trimmed;
}

/** Parses pax extended-header records, keeping values as bytes (xattr values are binary). */
export function parsePaxRecords(buf: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let rest = buf;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    if (space <= 0) break;
    const len = Number(rest.subarray(0, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= space + 1 || len > rest.length) break;
    const record = rest.subarray(space + 1, len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) records.set(record.subarray(0, eq).toString('utf8'), record.subarray(eq + 1));
    rest = rest.subarray(len);
  }
  return records;
}

interface ExtractInternals {
  _header: { type?: string | null } | null;
  _pax: object | null;
  _decodeLongHeader(buf: Buffer): void;
}

/**
 * tar-stream decodes pax values as UTF-8 strings, which mangles binary xattr values (e.g.
 * security.capability). This keeps each per-entry pax header's raw records, keyed by the
 * `header.pax` object tar-stream attaches to the entry.
 */
function captureRawPax(ex: Extract): WeakMap<object, Map<string, Buffer>> {
  const internals = ex as unknown as ExtractInternals;
  if (typeof internals._decodeLongHeader !== 'function') {
    throw new SystemError('tar-stream internals changed: cannot read binary pax records');
  }
  const decode = internals._decodeLongHeader.bind(ex);
  const raw = new WeakMap<object, Map<string, Buffer>>();
  internals._decodeLongHeader = (buf: Buffer): void => {
    decode(buf);
    if (internals._header?.type === 'pax-header' && internals._pax) {
      raw.set(internals._pax, parsePaxRecords(buf));
    }
  };
  return raw;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (isErrnoError(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

async function drain(entry: Entry): Promise<void> {
  for await (const _chunk of entry) {
    // discarded
  }
}

function paxNumber(
  pax: Record<string, string> | null | undefined,
  key: string,
): number | undefined {
  const v = pax?.[key];
  if (v === undefined || !/^-?\d+(\.\d+)?$/.test(v)) return undefined;
  return Number(v);
}

class LayerApplier {
  /** Directory times are set last: creating their children would change them again. */
  private readonly dirTimes = new Map<string, number>();
  /**
   * Relative paths checked (or made) to be real directories, so that deep trees are not
   * lstat'ed component by component for every entry. Sound because this applier is the only
   * writer: every removal goes through clear(), which forgets the path and its descendants.
   */
  private readonly knownDirs = new Set<string>();
  private readonly sameOwner: boolean;

  constructor(
    private readonly root: string,
    private readonly rawPax: WeakMap<object, Map<string, Buffer>>,
    private readonly opts: ApplyLayerOptions,
  ) {
    this.sameOwner = opts.sameOwner ?? process.getuid?.() === 0;
  }

  async apply(entry: Entry): Promise<void> {
    // On a refusal the entry is left unread: the whole extraction is torn down anyway.
    const consumed = await this.applyEntry(entry, entry.header as EntryHeader);
    if (!consumed) await drain(entry);
  }

  /** Applies one entry; true when it read the entry's data. */
  private async applyEntry(entry: Entry, h: EntryHeader): Promise<boolean> {
    const rel = normaliseEntryName(h.name);
    if (rel === '') {
      if (h.type !== 'directory') throw unsafe(h.name, 'the layer root can only be a directory');
      await this.setMetadata(this.root, '', h, 'directory');
      return false;
    }
    const parentRel = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
    const base = posix.basename(rel);

    // aufs bookkeeping (.wh..wh.plnk/..., .wh..wh.aufs) is skipped, as moby does.
    if (rel !== WHITEOUT_OPAQUE && rel.startsWith(WHITEOUT_META_PREFIX)) return false;
    if (base === WHITEOUT_OPAQUE) {
      const dir = await this.resolveDir(parentRel, h.name, true);
      lsetxattr(dir, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      return false;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) return false;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const hidden = base.slice(WHITEOUT_PREFIX.length);
      if (hidden === '' || hidden === '.' || hidden === '..') {
        throw unsafe(h.name, 'whiteout does not name a file');
      }
      const path = join(await this.resolveDir(parentRel, h.name, true), hidden);
      await this.clear(path, false);
      try {
        mknod(path, S_IF.CHR, 0, 0);
      } catch (err) {
        throw new SystemError(
          `cannot create overlay whiteout for ${JSON.stringify(h.name)}: ${String(err)}`,
        );
      }
      return false;
    }

    const parent = await this.resolveDir(parentRel, h.name, true);
    const path = join(parent, base);
    let consumed = false;
    switch (h.type) {
      case 'directory':
        if ((await this.clear(path, true)) === 'kept') break;
        await mkdir(path, 0o700);
        break;
      case 'file':
      case 'contiguous-file':
        await this.clear(path, false);
        await this.writeFile(path, entry);
        consumed = true;
        break;
      case 'symlink': {
        const target = h.linkname ?? '';
        if (target === '' || target.includes('\0')) throw unsafe(h.name, 'invalid symlink target');
        await this.clear(path, false);
        await symlink(target, path);
        break;
      }
      case 'link':
        await this.hardlink(h, path);
        return false; // the target inode already carries its metadata
      case 'fifo':
      case 'character-device':
      case 'block-device':
        await this.clear(path, false);
        if (!this.makeNode(h, path)) return false;
        break;
      default:
        throw unsafe(h.name, `unsupported tar entry type ${String(h.type)}`);
    }
    await this.setMetadata(path, rel, h, h.type);
    return consumed;
  }

  /**
   * The absolute path of directory `rel`, walking down from the root without following
   * symlinks; missing components are created (0755, as moby does) when `create`.
   */
  private async resolveDir(rel: string, name: string, create: boolean): Promise<string> {
    let cur = this.root;
    let curRel = '';
    if (rel === '') return cur;
    for (const component of rel.split('/')) {
      const next = join(cur, component);
      curRel = curRel === '' ? component : `${curRel}/${component}`;
      cur = next;
      if (this.knownDirs.has(curRel)) continue;
      const st = await lstatOrUndefined(next);
      if (st === undefined) {
        if (!create) throw unsafe(name, `${JSON.stringify(rel)} does not exist`);
        await mkdir(next, 0o755);
        await chmod(next, 0o755);
      } else if (st.isSymbolicLink()) {
        throw unsafe(
          name,
          `parent ${JSON.stringify(component)} is a symlink; refusing to write through it`,
        );
      } else if (!st.isDirectory()) {
        throw unsafe(name, `parent ${JSON.stringify(component)} is not a directory`);
      }
      this.knownDirs.add(curRel);
    }
    return cur;
  }

  /** Removes what is at `path` unless both it and the new entry are directories (then merged). */
  private async clear(path: string, newIsDir: boolean): Promise<'kept' | 'cleared'> {
    const st = await lstatOrUndefined(path);
    if (st === undefined) return 'cleared';
    if (st.isDirectory() && newIsDir) return 'kept';
    this.forget(path);
    if (st.isDirectory()) {
      await rm(path, { recursive: true, force: true }); // rm does not follow symlinks inside
    } else {
      await unlink(path);
    }
    return 'cleared';
  }

  /** Drops `path` and everything beneath it from the verified directories. */
  private forget(path: string): void {
    const rel = relative(this.root, path);
    for (const d of this.knownDirs) {
      if (d === rel || d.startsWith(`${rel}/`)) this.knownDirs.delete(d);
    }
  }

  private async writeFile(path: string, entry: Entry): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await open(path, flags, 0o600);
    try {
      const out = new BatchedWriter(fh);
      for await (const chunk of entry) await out.write(chunk as Buffer);
      await out.flush();
    } finally {
      await fh.close();
    }
  }

  private async hardlink(h: EntryHeader, path: string): Promise<void> {
    const targetName = h.linkname ?? '';
    const targetRel = normaliseEntryName(targetName);
    if (targetRel === '') throw unsafe(h.name, 'hardlink to the layer root');
    const targetParentRel = posix.dirname(targetRel) === '.' ? '' : posix.dirname(targetRel);
    const targetParent = await this.resolveDir(targetParentRel, h.name, false);
    const target = join(targetParent, posix.basename(targetRel));
    const st = await lstatOrUndefined(target);
    if (st === undefined)
      throw unsafe(h.name, `hardlink target ${JSON.stringify(targetName)} does not exist`);
    if (st.isDirectory()) throw unsafe(h.name, 'hardlink to a directory');
    if (target === path) return;
    await this.clear(path, false);
    await link(target, path); // link(2) links a symlink itself, never what it points to
  }

  /** Creates a FIFO or device node; false when this host does not permit it (skipped, warned). */
  private makeNode(h: EntryHeader, path: string): boolean {
    const type = h.type === 'fifo' ? S_IF.FIFO : h.type === 'block-device' ? S_IF.BLK : S_IF.CHR;
    try {
      mknod(path, type | ((h.mode ?? 0) & 0o7777), h.devmajor ?? 0, h.devminor ?? 0);
      return true;
    } catch (err) {
      if (isErrnoError(err) && err.code === 'EPERM') {
        this.opts.onWarning?.(`skipped ${h.type} ${h.name}: ${err.message}`);
        return false;
      }
      throw err;
    }
  }

  private async setMetadata(
    path: string,
    rel: string,
    h: EntryHeader,
    type: EntryHeader['type'],
  ): Promise<void> {
    const pax = h.pax;
    if (this.sameOwner) {
      await lchown(path, paxNumber(pax, 'uid') ?? h.uid ?? 0, paxNumber(pax, 'gid') ?? h.gid ?? 0);
    }
    // After chown, which clears set-id bits; symlinks have no mode of their own on Linux.
    if (type !== 'symlink') await chmod(path, (h.mode ?? 0o644) & 0o7777);
    this.setXattrs(path, h);
    const mtime = paxNumber(pax, 'mtime') ?? (h.mtime ? h.mtime.getTime() / 1000 : 0);
    if (type === 'directory') this.dirTimes.set(rel, mtime);
    else await lutimes(path, mtime, mtime);
  }

  private setXattrs(path: string, h: EntryHeader): void {
    const records = h.pax ? this.rawPax.get(h.pax) : undefined;
    if (!records) return;
    for (const [key, value] of records) {
      if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
      const name = key.slice(XATTR_PAX_PREFIX.length);
      if (name.startsWith('trusted.overlay.')) {
        this.opts.onWarning?.(
          `ignored xattr ${name} on ${h.name}: overlay metadata comes only from whiteouts`,
        );
        continue;
      }
      try {
        lsetxattr(path, name, value);
      } catch (err) {
        // As moby: a filesystem or user namespace without xattr support loses them, with a warning.
        if (isErrnoError(err) && (err.code === 'ENOTSUP' || err.code === 'EPERM')) {
          this.opts.onWarning?.(`ignored xattr ${name} on ${h.name}: ${err.message}`);
          continue;
        }
        throw err;
      }
    }
  }

  /** Sets the deferred directory times, re-resolving each path as safely as before. */
  async finish(): Promise<void> {
    for (const [rel, mtime] of this.dirTimes) {
      let path: string;
      try {
        path = await this.resolveDir(rel, rel, false);
      } catch {
        continue; // replaced by a later entry; nothing to date
      }
      await lutimes(path, mtime, mtime);
    }
  }
}

/** Writes `source` into `sink`, honouring back-pressure; stops early once `sink` is destroyed. */
async function feed(
  source: Readable,
  sink: Extract,
  onChunk: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  try {
    for await (const chunk of source) {
      if (sink.destroyed) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      await onChunk(buf);
      if (!sink.write(buf)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            sink.off('drain', done);
            sink.off('close', done);
            resolve();
          };
          sink.on('drain', done);
          sink.on('close', done);
        });
      }
    }
    if (!sink.destroyed) sink.end(null);
  } catch (err) {
    sink.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    if (!source.readableEnded) source.destroy();
  }
}

/**
 * Applies the uncompressed layer `tar` onto directory `dir` (which must exist). On a refused
 * or malformed archive it rejects; what was written into `dir` up to then stays, and the
 * caller discards the directory.
 */
export async function applyLayer(
  tar: Readable,
  dir: string,
  opts: ApplyLayerOptions = {},
): Promise<ApplyLayerResult> {
  const root = resolve(dir);
  const st = await lstat(root);
  if (!st.isDirectory()) throw new SystemError(`layer target ${root} is not a directory`);

  const ex = tarExtract();
  // A parse error ("Unexpected end of data") reaches the applier only as "Stream was destroyed".
  let parseError: unknown;
  ex.on('error', (err) => (parseError ??= err));
  const applier = new LayerApplier(root, captureRawPax(ex), opts);
  const hash = createStreamHash();
  let size = 0;

  const feeding = feed(tar, ex, (chunk) => {
    size += chunk.length;
    opts.onProgress?.(size);
    return hash.update(chunk);
  });
  const applying = (async () => {
    for await (const entry of ex) await applier.apply(entry);
    await applier.finish();
  })();
  const [fed, applied] = await Promise.allSettled([feeding, applying]);
  // The applier's refusal says more than the "stream destroyed" it causes in the feeder.
  if (applied.status === 'rejected') {
    hash.cancel();
    throw toError(
      applied.reason instanceof SystemError ? applied.reason : (parseError ?? applied.reason),
    );
  }
  if (fed.status === 'rejected') {
    hash.cancel();
    throw toError(fed.reason);
  }
  return { diffId: await hash.digest(), size };
}

function toError(err: unknown): Error {
  if (err instanceof SystemError || isErrnoError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SystemError(`invalid layer archive: ${message}`);
}
