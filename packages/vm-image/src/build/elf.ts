/**
 * Shared-library closure check: every library an ELF binary NEEDs (read with `readelf -d`,
 * which reads any architecture) must be in the image's library directories.
 */
import { closeSync, existsSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './exec.js';

function isElf(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    return head.toString('latin1') === '\x7fELF';
  } catch {
    return false;
  }
}

/** Follows symlinks of a path inside `root` as the guest would (absolute targets stay in root). */
export function resolveInRoot(root: string, rel: string): string | undefined {
  let path = rel;
  for (let hops = 0; hops < 40; hops++) {
    const full = join(root, path);
    if (!existsSync(full) && !isLink(full)) return undefined;
    if (!isLink(full)) return full;
    const target = readlinkSync(full);
    path = target.startsWith('/') ? target : join(dirname(path), target);
  }
  return undefined;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export async function neededLibraries(path: string): Promise<string[]> {
  const out = await run('readelf', ['-d', '-W', path]);
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] ?? '');
}

/**
 * Follows NEEDED from each binary (paths relative to root) through the libraries found;
 * returns the sonames that no library directory holds, with who needs them.
 */
export async function missingLibraries(
  root: string,
  binaries: readonly string[],
  libDirs: readonly string[],
): Promise<string[]> {
  const missing: string[] = [];
  const seen = new Set<string>();
  const queue = binaries.map((b) => ({ rel: b, by: b }));
  for (const { rel, by } of queue) {
    const real = resolveInRoot(root, rel);
    if (!real) {
      missing.push(`${rel} (needed by ${by})`);
      continue;
    }
    if (seen.has(real) || !isElf(real)) continue;
    seen.add(real);
    for (const soname of await neededLibraries(real)) {
      const dir = libDirs.find((d) => resolveInRoot(root, join(d, soname)));
      if (dir) queue.push({ rel: join(dir, soname), by: rel });
      else missing.push(`${soname} (needed by ${rel})`);
    }
  }
  return missing;
}
