/**
 * The engine's image metadata (moby's "image store" + "reference store"): which images exist
 * and which names point at them. Image bytes live in the ContentStore and unpacked layers in
 * the Snapshotter; this store only records, per image ID (the config digest), the manifest it
 * came from and its names.
 *
 * Terms: a *tag reference* is a normalised `registry/repo:tag` ("docker.io/library/busybox:latest");
 * a *digest reference* is `registry/repo@sha256:…` (Docker's RepoDigests). Contract: `put` and
 * name changes are written atomically (temp file + rename) so a crash never leaves a record
 * half-written; records whose config blob is missing are dropped by `repair()`.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { NotFoundError } from '../api/errors.js';
import type { ContentStore } from './content-store.js';
import { type Descriptor, type Digest, descriptorSchema, digestSchema } from './oci.js';
import { formatReference, parseReference, repositoryName, withDefaultTag } from './reference.js';

export interface ImageRecord {
  /** The image ID: digest of the config blob. */
  id: Digest;
  /** The manifest this image was pulled or loaded as, when there is one (needed to push). */
  manifest?: Descriptor;
  /** For an image that came from an index: the index's digest, for RepoDigests. */
  indexDigest?: Digest;
  /** Normalised tag references, e.g. "docker.io/library/busybox:latest". */
  repoTags: string[];
  /** Normalised digest references, e.g. "docker.io/library/busybox@sha256:…". */
  repoDigests: string[];
  /** When the image was stored here (RFC 3339). */
  stored: string;
  /** When a tag was last added (RFC 3339), Docker's Metadata.LastTagTime. */
  lastTagTime?: string;
}

export interface ImageStore {
  repair(): Promise<void>;
  get(id: Digest): Promise<ImageRecord | undefined>;
  list(): Promise<ImageRecord[]>;
  /**
   * Finds an image by what a user types: a name with or without tag (normalised here), a
   * digest reference, a full image ID (`sha256:…`) or an unambiguous ID prefix (≥ 1 hex char,
   * as Docker allows). Undefined when nothing matches.
   */
  lookup(nameOrId: string): Promise<ImageRecord | undefined>;
  /** Records an image (or merges names into an existing record with the same ID). */
  put(record: ImageRecord): Promise<ImageRecord>;
  /** Points tag reference `ref` at image `id`, moving it from any other image. */
  tag(id: Digest, ref: string): Promise<void>;
  /** Removes one tag or digest reference; returns the image it pointed at. */
  untag(ref: string): Promise<ImageRecord | undefined>;
  delete(id: Digest): Promise<void>;
}

const recordSchema = z.object({
  id: digestSchema,
  manifest: descriptorSchema.optional(),
  indexDigest: digestSchema.optional(),
  repoTags: z.array(z.string()),
  repoDigests: z.array(z.string()),
  stored: z.string(),
  lastTagTime: z.string().optional(),
});

const HEX_PREFIX_RE = /^(?:sha256:)?([a-f0-9]+)$/;

/**
 * The normalised form of a tag or digest reference: "busybox" → "docker.io/library/busybox:latest",
 * "busybox@sha256:…" → "docker.io/library/busybox@sha256:…" (a tag next to a digest is dropped,
 * as Docker's reference store keys digests by repository alone). Throws InvalidParameterError.
 */
export function normalizeRef(ref: string): string {
  const parsed = withDefaultTag(parseReference(ref));
  return parsed.digest !== undefined
    ? `${repositoryName(parsed)}@${parsed.digest}`
    : formatReference(parsed);
}

function isDigestRef(ref: string): boolean {
  return ref.includes('@');
}

/**
 * ImageStore on disk: `<root>/<hex>.json` per image, loaded once into memory. Writes are
 * serialised so two changes to one record can never land out of order.
 */
export class FsImageStore implements ImageStore {
  private readonly records = new Map<Digest, ImageRecord>();
  /** Normalised tag/digest reference → image ID. */
  private readonly refs = new Map<string, Digest>();
  private loaded: Promise<void> | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private tmpCounter = 0;

  /** `root` is `<data-root>/images`; `content` holds the config blobs `repair()` checks. */
  constructor(
    private readonly root: string,
    private readonly content: ContentStore,
  ) {}

  async repair(): Promise<void> {
    await this.load();
    for (const record of [...this.records.values()]) {
      if ((await this.content.stat(record.id)) === undefined) await this.delete(record.id);
    }
    // Leftover temp files of writes interrupted by a crash.
    for (const name of await readdir(this.root)) {
      if (name.endsWith('.tmp')) await rm(join(this.root, name), { force: true });
    }
  }

  async get(id: Digest): Promise<ImageRecord | undefined> {
    await this.load();
    return copy(this.records.get(id));
  }

  async list(): Promise<ImageRecord[]> {
    await this.load();
    return [...this.records.values()].map((r) => structuredClone(r));
  }

  async lookup(nameOrId: string): Promise<ImageRecord | undefined> {
    await this.load();
    // As moby's GetImage: a full ID, then a reference, then an ID prefix.
    const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(nameOrId);
    if (full) {
      const byId = this.records.get(`sha256:${full[1]}`);
      if (byId) return copy(byId);
    }
    let ref: string | undefined;
    try {
      ref = normalizeRef(nameOrId);
    } catch {
      ref = undefined;
    }
    const byRef = ref === undefined ? undefined : this.refs.get(ref);
    if (byRef) return copy(this.records.get(byRef));
    const prefix = HEX_PREFIX_RE.exec(nameOrId)?.[1];
    if (prefix === undefined) return undefined;
    let found: ImageRecord | undefined;
    for (const [id, record] of this.records) {
      if (!id.startsWith(`sha256:${prefix}`)) continue;
      if (found) return undefined; // ambiguous: Docker answers "No such image"
      found = record;
    }
    return copy(found);
  }

  async put(record: ImageRecord): Promise<ImageRecord> {
    await this.load();
    const existing = this.records.get(record.id);
    const merged: ImageRecord = existing
      ? {
          ...existing,
          manifest: record.manifest ?? existing.manifest,
          indexDigest: record.indexDigest ?? existing.indexDigest,
          lastTagTime: record.lastTagTime ?? existing.lastTagTime,
        }
      : { ...structuredClone(record), repoTags: [], repoDigests: [] };
    dropUndefined(merged);
    this.records.set(record.id, merged);
    const changed = new Set<Digest>([record.id]);
    for (const ref of [...record.repoTags, ...record.repoDigests]) {
      for (const id of this.attach(record.id, normalizeRef(ref))) changed.add(id);
    }
    await this.persist(changed);
    return structuredClone(merged);
  }

  async tag(id: Digest, ref: string): Promise<void> {
    await this.load();
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`No such image: ${id}`);
    const changed = this.attach(id, normalizeRef(ref));
    record.lastTagTime = new Date().toISOString();
    await this.persist(new Set([id, ...changed]));
  }

  async untag(ref: string): Promise<ImageRecord | undefined> {
    await this.load();
    const normalized = normalizeRef(ref);
    const id = this.refs.get(normalized);
    const record = id === undefined ? undefined : this.records.get(id);
    if (!id || !record) return undefined;
    this.detach(record, normalized);
    await this.persist(new Set([id]));
    return structuredClone(record);
  }

  async delete(id: Digest): Promise<void> {
    await this.load();
    const record = this.records.get(id);
    if (!record) return;
    for (const ref of [...record.repoTags, ...record.repoDigests]) this.refs.delete(ref);
    this.records.delete(id);
    await this.serialized(() => rm(this.file(id), { force: true }));
  }

  /** Points `ref` at `id`, taking it from whichever image had it; returns the IDs changed. */
  private attach(id: Digest, ref: string): Digest[] {
    const changed: Digest[] = [id];
    const previous = this.refs.get(ref);
    if (previous !== undefined && previous !== id) {
      const other = this.records.get(previous);
      if (other) this.detach(other, ref);
      changed.push(previous);
    }
    const record = this.records.get(id);
    if (!record) return changed;
    const list = isDigestRef(ref) ? record.repoDigests : record.repoTags;
    if (!list.includes(ref)) list.push(ref);
    this.refs.set(ref, id);
    return changed;
  }

  private detach(record: ImageRecord, ref: string): void {
    record.repoTags = record.repoTags.filter((r) => r !== ref);
    record.repoDigests = record.repoDigests.filter((r) => r !== ref);
    if (this.refs.get(ref) === record.id) this.refs.delete(ref);
  }

  private file(id: Digest): string {
    return join(this.root, `${id.slice('sha256:'.length)}.json`);
  }

  private load(): Promise<void> {
    this.loaded ??= this.readAll();
    return this.loaded;
  }

  private async readAll(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    for (const name of await readdir(this.root)) {
      if (!name.endsWith('.json')) continue;
      let record: ImageRecord;
      try {
        record = recordSchema.parse(JSON.parse(await readFile(join(this.root, name), 'utf8')));
        dropUndefined(record);
      } catch {
        continue; // unreadable record: ignored, as if it were never committed
      }
      if (name !== `${record.id.slice('sha256:'.length)}.json`) continue;
      this.records.set(record.id, record);
    }
    // Rebuild the name index; a name claimed by two records (impossible unless edited by
    // hand) goes to the most recently tagged one.
    const byTagTime = [...this.records.values()].sort((a, b) =>
      (a.lastTagTime ?? a.stored).localeCompare(b.lastTagTime ?? b.stored),
    );
    for (const record of byTagTime) {
      for (const ref of [...record.repoTags, ...record.repoDigests]) this.refs.set(ref, record.id);
    }
    for (const record of byTagTime) {
      record.repoTags = record.repoTags.filter((r) => this.refs.get(r) === record.id);
      record.repoDigests = record.repoDigests.filter((r) => this.refs.get(r) === record.id);
    }
  }

  private async persist(ids: Set<Digest>): Promise<void> {
    for (const id of ids) {
      const record = this.records.get(id);
      if (!record) continue;
      const data = JSON.stringify(record, null, 2);
      await this.serialized(() => this.writeAtomic(this.file(id), data));
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.writes.then(fn, fn);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async writeAtomic(path: string, data: string): Promise<void> {
    const tmp = `${path}.${process.pid}.${this.tmpCounter++}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    // The rename itself is durable only once the directory is synced.
    const dir = await open(this.root, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function copy(record: ImageRecord | undefined): ImageRecord | undefined {
  return record === undefined ? undefined : structuredClone(record);
}

function dropUndefined(record: ImageRecord): void {
  for (const key of Object.keys(record) as (keyof ImageRecord)[]) {
    if (record[key] === undefined) delete record[key];
  }
}
