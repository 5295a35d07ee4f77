/**
 * What a container changed (`docker diff`): its overlay upper dir read against the image's
 * layers. An entry in the upper dir is *added* when no lower layer shows that path, *modified*
 * when one does (overlay copies a file up on any change, and a directory when anything below
 * it changes), and an overlay whiteout (a 0/0 char device) is *deleted*.
 *
 * The runtime creates mount points the image lacks (`/proc`, `/etc/hosts`, volume targets) as
 * empty files and directories in the upper dir. moby keeps those in a separate "init" layer,
 * so they never show as changes nor end up in a committed image; mountStubs() finds them so
 * diff and commit can leave them out the same way.
 */
import type { Stats } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isOpaqueDir, isWhiteout } from './archive.js';
import type { ContainerView } from './service.js';

/** Docker's change kinds. */
export const ChangeKind = { Modified: 0, Added: 1, Deleted: 2 } as const;
export type ChangeKindValue = (typeof ChangeKind)[keyof typeof ChangeKind];

export interface Change {
  /** Absolute path in the container. */
  Path: string;
  Kind: ChangeKindValue;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

/**
 * Whether the image (its layer dirs, top first) shows `rel`: the topmost layer that has the
 * path decides (a whiteout there hides it), and an opaque ancestor in a layer hides every
 * layer below it.
 */
export async function inLowerLayers(lowers: readonly string[], rel: string): Promise<boolean> {
  const parts = rel.split('/');
  for (const lower of lowers) {
    const st = await lstatOrUndefined(join(lower, rel));
    if (st) return !isWhiteout(st);
    for (let i = parts.length - 1; i > 0; i--) {
      if (isOpaqueDir(join(lower, ...parts.slice(0, i)))) return false;
    }
  }
  return false;
}

async function children(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of await opendir(dir)) names.push(e.name);
  } catch {
    return [];
  }
  return names.sort();
}

/**
 * Relative paths in `upper` that only exist as the runtime's mount points: an empty file or
 * directory at a mount destination the image does not have, and the directories the runtime
 * created (or copied up) just to hold such stubs.
 */
export async function mountStubs(
  upper: string,
  lowers: readonly string[],
  mountPoints: readonly string[],
): Promise<Set<string>> {
  const stubs = new Set<string>();
  for (const dest of mountPoints) {
    const rel = posix.normalize(dest).replace(/^\/+/, '').replace(/\/+$/, '');
    if (rel === '' || rel.startsWith('..')) continue;
    const st = await lstatOrUndefined(join(upper, rel));
    if (!st) continue;
    const empty = st.isDirectory()
      ? (await children(join(upper, rel))).length === 0
      : st.isFile() && st.size === 0;
    if (!empty || (await inLowerLayers(lowers, rel))) continue;
    stubs.add(rel);
  }
  // A parent holding nothing but stubs exists in the upper dir only because of them.
  const holdsOnlyStubs = async (rel: string): Promise<boolean> => {
    for (const name of await children(join(upper, rel))) {
      const child = `${rel}/${name}`;
      if (stubs.has(child)) continue;
      const st = await lstatOrUndefined(join(upper, child));
      if (!st?.isDirectory() || !(await holdsOnlyStubs(child))) return false;
    }
    return true;
  };
  const parents = new Set<string>();
  for (const s of stubs) {
    for (let p = posix.dirname(s); p !== '.'; p = posix.dirname(p)) parents.add(p);
  }
  // Deepest first, so a grandparent sees its children's verdict.
  for (const p of [...parents].sort((a, b) => b.length - a.length)) {
    if (isOpaqueDir(join(upper, p))) continue;
    if (await holdsOnlyStubs(p)) stubs.add(p);
  }
  return stubs;
}

/** The changes in `upper` against `lowers` (top first), sorted by path; `exclude` skips trees. */
export async function layerChanges(
  upper: string,
  lowers: readonly string[],
  exclude: ReadonlySet<string> = new Set(),
): Promise<Change[]> {
  const out: Change[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of await children(rel === '' ? upper : join(upper, rel))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (exclude.has(childRel)) continue;
      const st = await lstatOrUndefined(join(upper, childRel));
      if (!st) continue;
      const path = `/${childRel}`;
      if (isWhiteout(st)) {
        out.push({ Path: path, Kind: ChangeKind.Deleted });
        continue;
      }
      const kind = (await inLowerLayers(lowers, childRel)) ? ChangeKind.Modified : ChangeKind.Added;
      out.push({ Path: path, Kind: kind });
      if (st.isDirectory()) await walk(childRel);
    }
  };
  await walk('');
  return out.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

/** Mount points moby keeps in its init layer, plus whatever the spec mounts. */
const INIT_LAYER_PATHS = [
  '/proc',
  '/sys',
  '/dev',
  '/dev/pts',
  '/dev/shm',
  '/.dockerenv',
  '/etc/resolv.conf',
  '/etc/hosts',
  '/etc/hostname',
  '/etc/mtab',
];

/** Mount destinations of the container's runtime spec plus the init-layer paths. */
export async function mountPointsOf(
  containers: { spec(id: string): Promise<unknown> },
  id: string,
): Promise<string[]> {
  const out = [...INIT_LAYER_PATHS];
  try {
    const spec = (await containers.spec(id)) as {
      mounts?: Array<{ destination?: unknown }>;
    } | null;
    for (const m of spec?.mounts ?? [])
      if (typeof m.destination === 'string') out.push(m.destination);
  } catch {
    // never started: no spec, only the defaults
  }
  return out;
}

/** GET /containers/{id}/changes: the container's changes without the runtime's mount stubs. */
export async function containerChanges(
  view: Pick<ContainerView, 'id' | 'upperDir' | 'lowerDirs'>,
  containers: { spec(id: string): Promise<unknown> },
): Promise<Change[]> {
  const lowers = await view.lowerDirs();
  const stubs = await mountStubs(view.upperDir, lowers, await mountPointsOf(containers, view.id));
  return layerChanges(view.upperDir, lowers, stubs);
}
