/**
 * The classic builder's step cache: (parent image, step) → the image that step made. The step
 * key holds everything the result depends on — the instruction after expansion, the run
 * config it ran with, and for COPY/ADD the `file:`/`dir:` hash of the sources — so a hit is
 * a safe reuse. Kept in memory and persisted to <data-root>/build-cache/index.json; entries
 * whose image is gone (pruned) simply miss.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Digest, digestSchema } from '../images/oci.js';

const indexSchema = z.object({
  version: z.literal(1),
  /** key → image ID */
  entries: z.record(z.string(), digestSchema),
  /** image ID → parent image ID (Docker's intermediate-image parent links) */
  parents: z.record(z.string(), digestSchema).default({}),
});

export class BuildCache {
  private entries = new Map<string, Digest>();
  private parents = new Map<Digest, Digest>();
  private loaded: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'index.json');
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      try {
        const doc = indexSchema.parse(JSON.parse(await readFile(this.file, 'utf8')));
        this.entries = new Map(Object.entries(doc.entries));
        this.parents = new Map<Digest, Digest>(Object.entries(doc.parents).map(([k, v]) => [k, v]));
      } catch {
        // absent or unreadable: start empty (a cache may always be lost)
      }
    })();
    return this.loaded;
  }

  static key(parent: Digest, step: unknown): string {
    return createHash('sha256')
      .update(parent)
      .update('\n')
      .update(JSON.stringify(step))
      .digest('hex');
  }

  async get(key: string): Promise<Digest | undefined> {
    await this.load();
    return this.entries.get(key);
  }

  async set(key: string, id: Digest, parent: Digest): Promise<void> {
    await this.load();
    this.entries.set(key, id);
    this.parents.set(id, parent);
    await this.persist();
  }

  /** The parent links of images this builder made (ID → parent ID). */
  async parentLinks(): Promise<ReadonlyMap<Digest, Digest>> {
    await this.load();
    return this.parents;
  }

  /** Forgets entries whose image is no longer stored; returns how many went. */
  async retain(exists: (id: Digest) => Promise<boolean>): Promise<number> {
    await this.load();
    let dropped = 0;
    for (const [k, id] of [...this.entries]) {
      if (!(await exists(id))) {
        this.entries.delete(k);
        this.parents.delete(id);
        dropped++;
      }
    }
    await this.persist();
    return dropped;
  }

  async clear(): Promise<void> {
    await this.load();
    this.entries.clear();
    this.parents.clear();
    await this.persist();
  }

  /** Writes are serialised and atomic (temp file + rename). */
  private persist(): Promise<void> {
    const doc = {
      version: 1,
      entries: Object.fromEntries(this.entries),
      parents: Object.fromEntries(this.parents),
    };
    this.writing = this.writing.then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
      await rename(tmp, this.file).catch(async (err: unknown) => {
        await rm(tmp, { force: true });
        throw err;
      });
    });
    return this.writing;
  }
}
