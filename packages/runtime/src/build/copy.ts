/**
 * COPY and ADD's file work: finding the sources (in the build context or another image's
 * rootfs — always resolved inside that root, so a symlink in a hostile context cannot make
 * the daemon read host files), hashing them for the cache (`file:`/`dir:` as Docker names
 * them in history), and writing them into the step container's rootfs with Docker's
 * destination rules. ADD also unpacks local tar archives (archive.ts) with the layer applier,
 * which refuses entries escaping the destination.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  copyFile,
  lchown,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidParameterError } from '../api/errors.js';
import { resolveInRoot } from '../containers/rootfs-path.js';
import { applyLayer } from '../storage/apply-layer.js';
import { archiveKind, openArchive } from './archive.js';
import { globMatch, hasWildcards } from './patterns.js';

export class CopyError extends InvalidParameterError {}

export interface CopySource {
  /** The source on the host (inside its root). */
  hostPath: string;
  /** Its path relative to the root, as matched. */
  rel: string;
  isDir: boolean;
}

export interface Owner {
  uid: number;
  gid: number;
}

/** Bounds the walk of a wildcard source, so a huge context cannot stall a step forever. */
const MAX_WALK_ENTRIES = 200_000;

function cleanSource(src: string): string {
  return posix.normalize(`/${src}`);
}

async function walkMatches(root: string, pattern: string): Promise<CopySource[]> {
  const out: CopySource[] = [];
  let seen = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(rel === '' ? root : join(root, rel))).sort()) {
      if (++seen > MAX_WALK_ENTRIES) throw new CopyError('too many files in the build context');
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, childRel));
      if (globMatch(pattern, childRel)) {
        out.push({ hostPath: join(root, childRel), rel: childRel, isDir: st.isDirectory() });
      } else if (st.isDirectory()) await walk(childRel);
    }
  };
  await walk('');
  return out;
}

/**
 * The sources of one COPY/ADD. `inContext`: the root is the build context (the messages
 * say so, and a path climbing out of it is forbidden rather than clamped).
 */
export async function resolveSources(
  root: string,
  srcs: readonly string[],
  keyword: 'COPY' | 'ADD',
  inContext: boolean,
): Promise<CopySource[]> {
  const out: CopySource[] = [];
  for (const src of srcs) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
      if (keyword === 'COPY') {
        throw new CopyError(`COPY failed: source can't be a URL for COPY`);
      }
      throw new CopyError(
        `ADD failed: downloading ${src} is not supported: berthd builds have no network access for ADD; download the file into the build context instead`,
      );
    }
    const clean = cleanSource(src);
    if (inContext && posix.normalize(src).startsWith('../')) {
      throw new CopyError(`${keyword} failed: forbidden path outside the build context: ${src} ()`);
    }
    if (hasWildcards(clean)) {
      const matches = await walkMatches(root, clean.slice(1));
      out.push(...matches);
      continue;
    }
    const resolved = await resolveInRoot(root, clean);
    if (resolved.climbedOut && inContext) {
      throw new CopyError(`${keyword} failed: forbidden path outside the build context: ${src} ()`);
    }
    const st = resolved.missing ? undefined : await lstat(resolved.onHost).catch(() => undefined);
    if (!st) {
      throw new CopyError(
        inContext
          ? `${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`
          : `${keyword} failed: stat ${src}: file does not exist`,
      );
    }
    out.push({
      hostPath: resolved.onHost,
      rel: resolved.inContainer.slice(1) || '.',
      isDir: st.isDirectory(),
    });
  }
  if (out.length === 0) throw new CopyError(`${keyword} failed: no source files were specified`);
  return out;
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A content hash of one source tree: names, types, modes, contents, link targets. */
async function hashTree(
  path: string,
  name: string,
  h: ReturnType<typeof createHash>,
): Promise<void> {
  const st = await lstat(path);
  const mode = (st.mode & 0o7777).toString(8);
  if (st.isDirectory()) {
    h.update(`d ${name} ${mode}\n`);
    for (const child of (await readdir(path)).sort()) {
      await hashTree(join(path, child), `${name}/${child}`, h);
    }
  } else if (st.isSymbolicLink()) {
    h.update(`l ${name} ${await readlink(path)}\n`);
  } else if (st.isFile()) {
    h.update(`f ${name} ${mode} ${st.size} ${await hashFile(path)}\n`);
  }
}

/** Docker's history name of the sources: `file:<hex>`, `dir:<hex>` or `multi:<hex>`. */
export async function sourcesDigest(sources: readonly CopySource[]): Promise<string> {
  const one = async (s: CopySource): Promise<string> => {
    const h = createHash('sha256');
    await hashTree(s.hostPath, '.', h);
    return `${s.isDir ? 'dir' : 'file'}:${h.digest('hex')}`;
  };
  if (sources.length === 1) return one(sources[0] as CopySource);
  const h = createHash('sha256');
  for (const s of sources) h.update(`${await one(s)}\n`);
  return `multi:${h.digest('hex')}`;
}

// ---- writing into the rootfs -------------------------------------------------------------

/** Creates directory `path` (container view) and its parents; returns its host path. */
export async function mkdirInRoot(root: string, path: string, owner?: Owner): Promise<string> {
  const resolved = await resolveInRoot(root, path);
  if (!resolved.missing) {
    const st = await lstat(resolved.onHost);
    if (!st.isDirectory()) {
      throw new CopyError(`cannot copy to non-directory: ${resolved.inContainer}`);
    }
    return resolved.onHost;
  }
  // Create component by component so each new directory gets the owner.
  const parts = resolved.inContainer.split('/').filter(Boolean);
  let host = root;
  for (const p of parts) {
    host = join(host, p);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st) throw new CopyError(`cannot copy to non-directory: /${parts.join('/')}`);
    await mkdir(host, { mode: 0o755 });
    if (owner) await lchown(host, owner.uid, owner.gid);
  }
  return host;
}

interface WriteOptions {
  /** --chown; else root, as COPY does. */
  owner?: Owner | undefined;
  /** --chmod, octal. */
  mode?: number | undefined;
}

/** Copies host entry `src` to host path `target` (whose parent exists inside the root). */
async function copyEntry(src: string, target: string, opts: WriteOptions): Promise<void> {
  const st = await lstat(src);
  const existing = await lstat(target).catch(() => undefined);
  const owner = opts.owner ?? { uid: 0, gid: 0 };
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) await rm(target, { force: true });
    if (!existing?.isDirectory()) await mkdir(target);
    for (const child of await readdir(src)) {
      await copyEntry(join(src, child), join(target, child), opts);
    }
    await chmod(target, opts.mode ?? st.mode & 0o7777);
    await lchown(target, owner.uid, owner.gid);
    await utimes(target, st.atime, st.mtime);
    return;
  }
  if (existing?.isDirectory()) {
    throw new CopyError(`cannot overwrite directory ${target} with non-directory`);
  }
  if (existing) await rm(target, { force: true });
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), target);
    await lchown(target, owner.uid, owner.gid);
    await lutimes(target, st.atime, st.mtime);
    return;
  }
  if (!st.isFile()) return; // sockets, FIFOs and devices are not copied
  await copyFile(src, target);
  await chmod(target, opts.mode ?? st.mode & 0o7777);
  await lchown(target, owner.uid, owner.gid);
  await utimes(target, st.atime, st.mtime);
}

export interface CopyRequest {
  keyword: 'COPY' | 'ADD';
  sources: readonly CopySource[];
  /** The destination as written (expanded), and the WORKDIR it is relative to. */
  dest: string;
  workdir: string;
  owner?: Owner | undefined;
  mode?: number | undefined;
}

/** The container path a destination names (relative ones are under WORKDIR). */
export function destinationPath(dest: string, workdir: string): string {
  const abs = dest.startsWith('/') ? dest : posix.join(workdir || '/', dest);
  return posix.normalize(abs);
}

/** Writes the sources into the rootfs at host path `root`. */
export async function copyInto(root: string, req: CopyRequest): Promise<void> {
  const destIsDir = req.dest.endsWith('/') || req.dest === '.' || req.dest.endsWith('/.');
  if (req.sources.length > 1 && !destIsDir) {
    throw new CopyError(
      `When using ${req.keyword} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const dest = destinationPath(req.dest, req.workdir);
  const opts: WriteOptions = { owner: req.owner, mode: req.mode };
  for (const src of req.sources) {
    if (src.isDir) {
      const dir = await mkdirInRoot(root, dest, req.owner);
      for (const child of await readdir(src.hostPath)) {
        await copyEntry(join(src.hostPath, child), join(dir, child), opts);
      }
      continue;
    }
    if (req.keyword === 'ADD') {
      const kind = await archiveKind(src.hostPath, src.rel);
      if (kind) {
        const dir = await mkdirInRoot(root, dest, req.owner);
        await applyLayer(await openArchive(src.hostPath, kind, src.rel), dir, { sameOwner: true });
        continue;
      }
    }
    const existing = await resolveInRoot(root, dest);
    const intoDir =
      destIsDir ||
      (!existing.missing && (await lstat(existing.onHost).catch(() => undefined))?.isDirectory());
    const target = intoDir ? posix.join(dest, posix.basename(src.rel)) : dest;
    const parent = await mkdirInRoot(root, posix.dirname(target), req.owner);
    await copyEntry(src.hostPath, join(parent, posix.basename(target)), opts);
  }
}
