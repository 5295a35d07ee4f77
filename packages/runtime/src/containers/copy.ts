/**
 * `docker cp` on the engine side (the archive API): stat a path in a container, read it as a
 * tar, extract a tar into a directory of it. moby's daemon/archive.go is the reference.
 *
 * Paths are the container's, resolved against its merged rootfs with symlinks followed as the
 * container would follow them — never out of the root (CVE-2018-15664). As in moby the last
 * component is not followed for stat and read (a symlink is reported and archived as itself),
 * but is for extraction (extracting "into" a symlink to a directory is allowed).
 * Extraction reuses the layer applier's hostile-archive rules (storage/apply-layer.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, realpath, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import {
  ForbiddenError,
  InvalidParameterError,
  NotFoundError,
  SystemError,
} from '../api/errors.js';
import { applyLayer, normaliseEntryName, WHITEOUT_PREFIX } from '../storage/apply-layer.js';
import { packTree } from './archive.js';
import { resolveInRoot } from './rootfs-path.js';

/** Docker's ContainerPathStat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

/** Go's os.FileMode type bits. */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/** A Unix stat mode as Go's os.FileMode. */
export function goFileMode(st: Stats): number {
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += GO_MODE.dir;
  else if (st.isSymbolicLink()) mode += GO_MODE.symlink;
  else if (st.isBlockDevice()) mode += GO_MODE.device;
  else if (st.isCharacterDevice()) mode += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isFIFO()) mode += GO_MODE.namedPipe;
  else if (st.isSocket()) mode += GO_MODE.socket;
  if (st.mode & 0o4000) mode += GO_MODE.setuid;
  if (st.mode & 0o2000) mode += GO_MODE.setgid;
  if (st.mode & 0o1000) mode += GO_MODE.sticky;
  return mode;
}

export function encodePathStat(stat: PathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/**
 * moby's PreserveTrailingDotOrSeparator(filepath.Join("/", path), path): the cleaned absolute
 * path, keeping a trailing "/." or "/" the caller wrote (they change what cp means).
 */
export function absolutePath(path: string): string {
  const clean = posix.normalize(`/${path}`).replace(/\/+$/, '') || '/';
  if (clean === '/') return clean;
  if (path === '.' || path.endsWith('/.')) return `${clean}/.`;
  if (path.endsWith('/')) return `${clean}/`;
  return clean;
}

function notFound(path: string, container: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${path} in container ${container}`);
}

interface Resolved {
  absPath: string;
  /** Host path: the parent resolved in the root, the last component as given. */
  hostPath: string;
  st: Stats;
}

/** Host path of `absPath` with every component but the last resolved inside `root`. */
async function resolveParent(root: string, absPath: string): Promise<string> {
  const slash = absPath.lastIndexOf('/');
  const dir = absPath.slice(0, slash + 1);
  const base = absPath.slice(slash + 1);
  const parent = await resolveInRoot(root, dir);
  // "" and "." name the directory itself, already resolved.
  return base === '' || base === '.' ? parent.onHost : join(parent.onHost, base);
}

/**
 * Guards the time between resolving and using a path in a running container, whose processes
 * may swap a directory for a symlink meanwhile: the host's own view of the path must still be
 * inside the root.
 */
async function assertInside(root: string, hostPath: string): Promise<void> {
  const real = await realpath(hostPath);
  const realRoot = await realpath(root);
  if (real !== realRoot && !real.startsWith(`${realRoot}/`)) {
    throw new SystemError(`path ${hostPath} escapes the container's root filesystem`);
  }
}

async function resolveExisting(root: string, path: string, container: string): Promise<Resolved> {
  const absPath = absolutePath(path);
  const hostPath = await resolveParent(root, absPath);
  let st: Stats;
  try {
    st = await lstat(hostPath);
  } catch {
    throw notFound(path, container);
  }
  return { absPath, hostPath, st };
}

/** HEAD /containers/{id}/archive: the stat of `path` (a symlink itself, with its target). */
export async function statPath(root: string, path: string, container: string): Promise<PathStat> {
  const { absPath, st } = await resolveExisting(root, path, container);
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    linkTarget = (await resolveInRoot(root, absPath)).inContainer;
  }
  const base = posix.basename(absPath);
  return {
    name: absPath === '/' ? '/' : base === '' ? posix.basename(absPath.slice(0, -1)) : base,
    size: st.size,
    mode: goFileMode(st),
    mtime: st.mtime.toISOString(),
    linkTarget,
  };
}

/**
 * GET /containers/{id}/archive: the stat and a tar of `path`, its entries named after the
 * requested path's last element (so "/etc/" gives "etc/...", "/etc/." gives "./...").
 */
export async function archivePath(
  root: string,
  path: string,
  container: string,
): Promise<{ stat: PathStat; tar: tar.Pack }> {
  const stat = await statPath(root, path, container);
  const { absPath, hostPath } = await resolveExisting(root, path, container);
  await assertInside(root, posix.dirname(hostPath));
  const last = absPath.endsWith('/.') ? '.' : posix.basename(absPath.replace(/\/$/, ''));
  const rebaseName = last === '' ? '.' : last;
  return { stat, tar: packTree(hostPath, { rebaseName }) };
}

export interface ExtractOptions {
  /** moby's noOverwriteDirNonDir: refuse to replace a directory by a non-directory or back. */
  noOverwriteDirNonDir: boolean;
  /** Keep the archive's owners (`docker cp -a`); else everything belongs to root. */
  copyUIDGID: boolean;
  readonlyRootfs: boolean;
  /** Where to spool the archive (a directory on the engine's disk). */
  spoolDir: string;
}

/** Refuses what the archive may not do at `dir` before anything is written. */
async function checkArchive(
  file: string,
  dir: string,
  containerDir: string,
  opts: ExtractOptions,
): Promise<void> {
  const ex = tar.extract();
  const reading = pipeline(createReadStream(file), ex);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      entry.resume();
      const rel = normaliseEntryName(h.name);
      if (rel === '') continue;
      if (posix.basename(rel).startsWith(WHITEOUT_PREFIX)) {
        throw new InvalidParameterError(
          `cannot extract ${JSON.stringify(h.name)}: names starting with ${WHITEOUT_PREFIX} are reserved`,
        );
      }
      if (!opts.noOverwriteDirNonDir) continue;
      let existing: Stats;
      try {
        existing = await lstat(join(dir, rel));
      } catch {
        continue;
      }
      const target = posix.join(containerDir, rel);
      const isDir = h.type === 'directory';
      if (existing.isDirectory() && !isDir) {
        throw new SystemError(
          `cannot overwrite directory "${target}" with non-directory "${containerDir}"`,
        );
      }
      if (!existing.isDirectory() && isDir) {
        throw new SystemError(
          `cannot overwrite non-directory "${target}" with directory "${containerDir}"`,
        );
      }
    }
    await reading;
  } catch (err) {
    ex.destroy();
    await reading.catch(() => undefined);
    throw err;
  }
}

/** PUT /containers/{id}/archive: extracts the tar `body` into directory `path`. */
export async function extractToPath(
  root: string,
  path: string,
  container: string,
  body: Readable,
  opts: ExtractOptions,
): Promise<void> {
  const absPath = absolutePath(path);
  // Unlike stat and read, the last component is followed too: extracting into a symlink that
  // points at a directory is allowed (still inside the root).
  const resolved = await resolveInRoot(root, absPath);
  let st: Stats;
  try {
    st = await lstat(resolved.onHost);
  } catch {
    throw notFound(path, container);
  }
  if (!st.isDirectory()) throw new InvalidParameterError('extraction point is not a directory');
  if (opts.readonlyRootfs) throw new ForbiddenError('container rootfs is marked read-only');

  const spool = join(opts.spoolDir, `.cp-${randomBytes(8).toString('hex')}.tar`);
  try {
    await pipeline(body, createWriteStream(spool, { mode: 0o600 }));
    await checkArchive(spool, resolved.onHost, resolved.inContainer, opts);
    await assertInside(root, resolved.onHost);
    try {
      await applyLayer(createReadStream(spool), resolved.onHost, { sameOwner: opts.copyUIDGID });
    } catch (err) {
      if (err instanceof SystemError && /unsafe layer entry/.test(err.message)) {
        throw new InvalidParameterError(
          err.message.replace('unsafe layer entry', 'refused archive entry'),
        );
      }
      throw err;
    }
  } finally {
    await rm(spool, { force: true });
  }
}
