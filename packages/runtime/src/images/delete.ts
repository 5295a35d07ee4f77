/**
 * `docker rmi` and `docker image prune` with moby's rules (daemon/images/image_delete.go):
 * removing by name untags, and the image goes only when no name is left; removing by ID
 * untags everything when the names are all in one repository with at most one tag, and
 * otherwise needs force. A deleted image takes with it the snapshots and blobs no remaining
 * image uses, and (unless noprune) its untagged parents that nothing else needs.
 */
import { ConflictError, InvalidParameterError, NotFoundError } from '../api/errors.js';
import type { Engine } from '../engine.js';
import { parseTimestamp } from '../events/timestamp.js';
import { type ImageRecord, normalizeRef } from './image-store.js';
import { createdSeconds, familiar, imageDetails, imageLabels, readImageConfig } from './inspect.js';
import { chainIds, type Digest, manifestSchema } from './oci.js';

/** A container created from an image, as far as image removal cares. */
export interface ImageUser {
  id: string;
  running: boolean;
}

/**
 * The optional ability an Engine gains once containers exist: the containers created from an
 * image. Without it, no image counts as in use.
 */
export interface ImageUsage {
  containersUsingImage(id: Digest): Promise<ImageUser[]>;
}

export function imageUsers(engine: Engine, id: Digest): Promise<ImageUser[]> {
  const usage = engine as Engine & Partial<ImageUsage>;
  return usage.containersUsingImage ? usage.containersUsingImage(id) : Promise.resolve([]);
}

/**
 * Parent links between stored images (image ID → parent image ID); the builder records one
 * for each step's image. An untagged image that is some stored image's parent is an
 * *intermediate* image: hidden from the image list, removed with its last child.
 */
export interface ImageParents {
  parentLinks(): Promise<ReadonlyMap<Digest, Digest>>;
}

const untagged = (record: ImageRecord): boolean =>
  record.repoTags.length + record.repoDigests.length === 0;

/** The IDs of the intermediate images (moby lists them only with `all`). */
export async function intermediateImages(
  engine: Engine,
  parents: ImageParents,
): Promise<Set<Digest>> {
  const links = await parents.parentLinks();
  const stored = new Map((await engine.images.list()).map((r) => [r.id, r]));
  const out = new Set<Digest>();
  for (const [child, parent] of links) {
    const record = stored.get(parent);
    if (stored.has(child) && record && untagged(record)) out.add(parent);
  }
  return out;
}

/** Whether a stored image names `id` as its parent (moby's imageStore.Children). */
async function hasChild(
  engine: Engine,
  links: ReadonlyMap<Digest, Digest>,
  id: Digest,
): Promise<boolean> {
  for (const [child, parent] of links) {
    if (parent === id && (await engine.images.get(child))) return true;
  }
  return false;
}

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface DeleteResult {
  items: DeleteItem[];
  /** Bytes of the snapshots removed. */
  reclaimed: number;
}

const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

function isIdPrefix(id: Digest, name: string): boolean {
  const m = /^(?:sha256:)?([a-f0-9]+)$/.exec(name);
  return m !== null && id.startsWith(`sha256:${m[1]}`);
}

const repoOf = (ref: string): string => {
  const at = ref.indexOf('@');
  if (at !== -1) return ref.slice(0, at);
  return ref.slice(0, ref.lastIndexOf(':'));
};

/** moby's isSingleReference: at most one tag, and every name in one repository. */
function isSingleReference(record: ImageRecord): boolean {
  const refs = [...record.repoTags, ...record.repoDigests];
  if (record.repoTags.length > 1) return false;
  return new Set(refs.map(repoOf)).size <= 1;
}

/** `DELETE /images/{name}`. */
export async function deleteImage(
  engine: Engine,
  name: string,
  {
    force = false,
    parents,
    noPrune = false,
  }: { force?: boolean; parents?: ImageParents | undefined; noPrune?: boolean } = {},
): Promise<DeleteResult> {
  const { images, events } = engine;
  let record = await images.lookup(name);
  if (!record) throw new NotFoundError(`No such image: ${name}`);
  const id = record.id;
  const items: DeleteItem[] = [];
  const untag = async (ref: string): Promise<void> => {
    await images.untag(ref);
    items.push({ Untagged: familiar(ref) });
    events.emit('image', 'untag', id, { name: id });
  };
  const users = await imageUsers(engine, id);
  const links = parents ? await parents.parentLinks() : undefined;
  // A hard conflict, as moby's conflictDependentChild: not even force removes a parent.
  const childConflict = async (): Promise<ConflictError | undefined> =>
    links && (await hasChild(engine, links, id))
      ? new ConflictError(
          `conflict: unable to delete ${short(id)} (cannot be forced) - image has dependent child images`,
        )
      : undefined;
  let removedRepositoryRef = false;

  if (!isIdPrefix(id, name)) {
    const ref = normalizeRef(name);
    const user = users[0];
    if (!force && isSingleReference(record) && user) {
      throw new ConflictError(
        `conflict: unable to remove repository reference "${name}" (must force) - container ${short(user.id)} is using its referenced image ${short(id)}`,
      );
    }
    await untag(ref);
    record = (await images.get(id)) ?? record;
    // Untagging the last tag of a repository also drops that repository's digest names.
    if (!ref.includes('@') && !record.repoTags.some((t) => repoOf(t) === repoOf(ref))) {
      for (const d of record.repoDigests.filter((d) => repoOf(d) === repoOf(ref))) await untag(d);
      record = (await images.get(id)) ?? record;
    }
    if (record.repoTags.length + record.repoDigests.length > 0) return { items, reclaimed: 0 };
    removedRepositoryRef = true;
  } else if (isSingleReference(record)) {
    const running = users.find((u) => u.running);
    const stopped = users.find((u) => !u.running);
    const child = await childConflict();
    if (child) throw child;
    if (running) throw inUse(id, running, true);
    if (!force && stopped) throw inUse(id, stopped, false);
    for (const ref of [...record.repoTags, ...record.repoDigests]) await untag(ref);
    record = (await images.get(id)) ?? record;
  }

  const running = users.find((u) => u.running);
  const stopped = users.find((u) => !u.running);
  const child = await childConflict();
  const conflict = child
    ? child
    : running
      ? inUse(id, running, true)
      : !force && record.repoTags.length + record.repoDigests.length > 1
        ? new ConflictError(
            `conflict: unable to delete ${short(id)} (must be forced) - image is referenced in multiple repositories`,
          )
        : !force && stopped
          ? inUse(id, stopped, false)
          : undefined;
  if (conflict) {
    // Docker keeps a now-untagged image that a container or a child image uses, quietly.
    if (removedRepositoryRef && (users.length > 0 || child)) return { items, reclaimed: 0 };
    throw conflict;
  }
  for (const ref of [...record.repoTags, ...record.repoDigests]) await untag(ref);
  const result = await removeImage(engine, record, items, users.length === 0);
  return parents && !noPrune ? removeParents(engine, parents, id, result) : result;
}

/**
 * Removes the chain of untagged parents above a deleted image, stopping at the first that is
 * tagged, has another child, or is used by a container (moby's prune of parents).
 */
async function removeParents(
  engine: Engine,
  parents: ImageParents,
  id: Digest,
  result: DeleteResult,
): Promise<DeleteResult> {
  const links = await parents.parentLinks();
  let reclaimed = result.reclaimed;
  for (let parentId = links.get(id); parentId; parentId = links.get(parentId)) {
    const parent = await engine.images.get(parentId);
    if (!parent || !untagged(parent) || (await hasChild(engine, links, parentId))) break;
    if ((await imageUsers(engine, parentId)).length > 0) break;
    reclaimed += (await removeImage(engine, parent, result.items, true)).reclaimed;
  }
  return { items: result.items, reclaimed };
}

function inUse(id: Digest, user: ImageUser, running: boolean): ConflictError {
  return new ConflictError(
    `conflict: unable to delete ${short(id)} (${running ? 'cannot be forced' : 'must be forced'}) - image is being used by ${running ? 'running' : 'stopped'} container ${short(user.id)}`,
  );
}

/** Drops the record, then the snapshots and blobs that no remaining image uses. */
async function removeImage(
  engine: Engine,
  record: ImageRecord,
  items: DeleteItem[],
  removeLayers: boolean,
): Promise<DeleteResult> {
  const { images, snapshots, content, events } = engine;
  const config = await readImageConfig(content, record.id).catch(() => undefined);
  const ownBlobs = await blobsOf(engine, record);
  await images.delete(record.id);
  events.emit('image', 'delete', record.id, { name: record.id });
  items.push({ Deleted: record.id });
  let reclaimed = 0;

  const keepChains = new Set<string>();
  const keepBlobs = new Set<Digest>();
  for (const other of await images.list()) {
    for (const b of await blobsOf(engine, other)) keepBlobs.add(b);
    const otherConfig = await readImageConfig(content, other.id).catch(() => undefined);
    for (const c of chainIds(otherConfig?.rootfs.diff_ids ?? [])) keepChains.add(c);
  }
  if (removeLayers && config) {
    for (const chain of chainIds(config.rootfs.diff_ids).reverse()) {
      if (keepChains.has(chain)) continue;
      const info = await snapshots.stat(chain);
      if (!info) continue;
      try {
        await snapshots.remove(chain);
      } catch (err) {
        // A container's snapshot still sits on this layer (and so on the ones below).
        if (err instanceof ConflictError) break;
        throw err;
      }
      reclaimed += info.size;
      items.push({ Deleted: chain });
    }
  }
  for (const blob of ownBlobs) {
    if (!keepBlobs.has(blob)) await content.delete(blob);
  }
  return { items, reclaimed };
}

/** The blobs an image's record points at: config, manifest, index and layers. */
async function blobsOf(engine: Engine, record: ImageRecord): Promise<Digest[]> {
  const out: Digest[] = [record.id];
  if (record.indexDigest) out.push(record.indexDigest);
  if (record.manifest) {
    out.push(record.manifest.digest);
    try {
      const doc = manifestSchema.parse(
        JSON.parse((await engine.content.read(record.manifest.digest)).toString('utf8')),
      );
      for (const layer of doc.layers) out.push(layer.digest);
    } catch {
      // the manifest is gone or unreadable: its layers cannot be named, so they stay
    }
  }
  return out;
}

export const PRUNE_FILTER_KEYS = ['dangling', 'label', 'label!', 'until'] as const;

/** True for `label=key` / `label=key=value` filters: every one must match. */
export function labelsMatch(labels: Record<string, string>, wanted: readonly string[]): boolean {
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    if (eq === -1) return w in labels;
    return labels[w.slice(0, eq)] === w.slice(eq + 1);
  });
}

/** The `dangling` filter value, refusing what Docker refuses. */
export function danglingFilter(values: readonly string[] | undefined): boolean | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const v = values[0] ?? '';
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw new InvalidParameterError(`invalid filter 'dangling=${v}'`);
}

/**
 * `POST /images/prune`: dangling images by default, all unused ones with `dangling=false`, as
 * moby's ImagesPrune: an untagged image with children (an intermediate one) is never a
 * candidate — it goes with its last child; a named image is removed by its names, so one that
 * child images still need is only untagged; conflicts skip an image rather than fail.
 */
export async function pruneImages(
  engine: Engine,
  filters: Map<string, string[]>,
  parents?: ImageParents,
): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
  const danglingOnly = danglingFilter(filters.get('dangling')) ?? true;
  const untilValues = filters.get('until') ?? [];
  const until = untilValues.length > 0 ? parseTimestamp(untilValues[0] ?? '') : undefined;
  const links = parents ? await parents.parentLinks() : new Map<Digest, Digest>();
  const candidates: ImageRecord[] = [];
  for (const record of await engine.images.list()) {
    if (danglingOnly && record.repoTags.length > 0) continue;
    if (untagged(record) && (await hasChild(engine, links, record.id))) continue;
    const details = await imageDetails(engine.content, record).catch(() => undefined);
    if (!details) continue;
    if (until !== undefined && BigInt(createdSeconds(details.config)) * 1_000_000_000n >= until) {
      continue;
    }
    const labels = imageLabels(details.config);
    if (!labelsMatch(labels, filters.get('label') ?? [])) continue;
    const negated = filters.get('label!') ?? [];
    if (negated.length > 0 && negated.some((w) => labelsMatch(labels, [w]))) continue;
    if ((await imageUsers(engine, record.id)).length > 0) continue;
    candidates.push(record);
  }
  const deleted: DeleteItem[] = [];
  let reclaimed = 0;
  for (const record of candidates) {
    const names = [...record.repoTags, ...record.repoDigests];
    for (const name of names.length > 0 ? names : [record.id]) {
      // An earlier removal may have taken it already (as an untagged parent).
      if (!(await engine.images.get(record.id))) break;
      try {
        const result = await deleteImage(engine, name, { parents });
        deleted.push(...result.items);
        reclaimed += result.reclaimed;
      } catch (err) {
        if (err instanceof ConflictError || err instanceof NotFoundError) break;
        throw err;
      }
    }
  }
  return { ImagesDeleted: deleted.length > 0 ? deleted : null, SpaceReclaimed: reclaimed };
}
