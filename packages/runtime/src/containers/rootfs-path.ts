/**
 * Paths inside a container's root filesystem, looked at from the host. A rootfs is untrusted
 * image content: a symlink in it must be followed as the container would follow it (an
 * absolute target starts again at the rootfs, `..` stops at the rootfs), never as the host
 * would — otherwise `/etc/passwd -> /etc/shadow` or `WORKDIR /proc/self/fd/7`
 * (CVE-2024-21626) reach host files.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Linux's limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export interface ResolvedPath {
  /** The path as the container sees it, absolute, symlinks resolved. */
  inContainer: string;
  /** The same place on the host, always under the rootfs. */
  onHost: string;
  /** A `..` (given or from a symlink) tried to climb above the rootfs and was stopped there. */
  climbedOut: boolean;
  /** Some component does not exist (the rest was taken literally). */
  missing: boolean;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Resolves `path` (absolute, as the container sees it) against host directory `root`. */
export async function resolveInRoot(root: string, path: string): Promise<ResolvedPath> {
  const queue = path.split('/');
  let current: string[] = [];
  let links = 0;
  let climbedOut = false;
  let missing = false;
  while (queue.length > 0) {
    const c = queue.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (current.length === 0) climbedOut = true;
      else current.pop();
      continue;
    }
    if (missing) {
      current.push(c);
      continue;
    }
    const onHost = join(root, ...current, c);
    let isLink: boolean;
    try {
      isLink = (await lstat(onHost)).isSymbolicLink();
    } catch (err) {
      if (!isNotFound(err)) throw err;
      missing = true;
      current.push(c);
      continue;
    }
    if (!isLink) {
      current.push(c);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      const err = new Error(`ELOOP: too many symbolic links, resolving '${path}'`);
      throw Object.assign(err, { code: 'ELOOP' });
    }
    const target = await readlink(onHost);
    if (target.startsWith('/')) current = [];
    queue.unshift(...target.split('/'));
  }
  return {
    inContainer: `/${current.join('/')}`,
    onHost: join(root, ...current),
    climbedOut,
    missing,
  };
}

/**
 * Reads a regular file inside the rootfs, at most `maxBytes` (a hostile image may ship a huge
 * /etc/passwd, a FIFO, or a device there). Undefined when it does not exist or is not a
 * regular file.
 */
export async function readFileInRoot(
  root: string,
  path: string,
  maxBytes = 1 << 20,
): Promise<Buffer | undefined> {
  const resolved = await resolveInRoot(root, path);
  if (resolved.missing) return undefined;
  let fh;
  try {
    // O_NOFOLLOW: the last component was resolved above; a symlink swapped in since is refused.
    // O_NONBLOCK: opening a FIFO must not hang.
    fh = await open(
      resolved.onHost,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (err) {
    if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    const buf = Buffer.alloc(maxBytes);
    let n = 0;
    while (n < maxBytes) {
      const { bytesRead } = await fh.read(buf, n, maxBytes - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
