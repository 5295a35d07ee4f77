/**
 * The local volume driver's store (moby's volume/local + volume/service): one directory per
 * volume, `<data-root>/volumes/<name>/_data` holding the data and `volume.json` beside it
 * holding the metadata and the containers that reference the volume.
 *
 * Terms: a *reference* is (container ID, destination) — one per place a container mounts the
 * volume; a volume with references is *in use* and cannot be removed. An *anonymous* volume
 * has a generated 64-hex name and the label `com.docker.volume.anonymous`.
 *
 * Contract: volume.json is written atomically and appears only after `_data` exists, so a
 * directory without it is a half-created volume that `repair()` removes. Mutations are
 * serialized; reads are served from memory.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '../api/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { isMounted, mountLocalOptions, unmountQuietly } from './local-mount.js';

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
export const LOCAL_DRIVER = 'local';

/** moby's utils.RestrictedNamePattern, which the local driver applies to volume names. */
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const RESTRICTED_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';

/** Local driver options (moby volume/local validOpts) and the options each one requires. */
const VALID_OPTS = ['type', 'device', 'o'] as const;
const MANDATORY_OPTS: Record<string, readonly string[]> = {
  device: ['type'],
  type: ['device'],
  o: ['device', 'type'],
};

const RefSchema = z.object({ container: z.string().min(1), destination: z.string() });
export type VolumeRef = z.infer<typeof RefSchema>;

const RecordSchema = z.object({
  name: z.string().regex(VALID_NAME),
  driver: z.string(),
  labels: z.record(z.string(), z.string()).nullable(),
  options: z.record(z.string(), z.string()).nullable(),
  createdAt: z.string(),
  refs: z.array(RefSchema),
});
export type VolumeRecord = z.infer<typeof RecordSchema>;

/** Docker's `Volume` object (GET /volumes/{name}). */
export interface ApiVolume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Scope: 'local';
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number };
}

export interface CreateVolumeOptions {
  /** Empty or absent: an anonymous volume. */
  name?: string;
  driver?: string;
  driverOpts?: Record<string, string> | null;
  labels?: Record<string, string> | null;
}

/** A generated volume name: 64 hex digits, as moby's stringid.GenerateRandomID. */
export function newVolumeName(): string {
  return randomBytes(32).toString('hex');
}

export function isAnonymous(v: VolumeRecord): boolean {
  return v.labels !== null && ANONYMOUS_LABEL in v.labels;
}

/** Refuses names the local driver refuses, with moby's message (wrapped as `create <name>:`). */
export function validateVolumeName(name: string): void {
  if (!VALID_NAME.test(name)) {
    throw new InvalidParameterError(
      `create ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume ` +
        `name, only ${JSON.stringify(RESTRICTED_CHARS)} are allowed. If you intended to pass a ` +
        `host directory, use absolute path`,
    );
  }
}

function validateOptions(name: string, opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) {
    if (!(VALID_OPTS as readonly string[]).includes(key)) {
      throw new InvalidParameterError(`create ${name}: invalid option: ${JSON.stringify(key)}`);
    }
  }
  for (const [key, required] of Object.entries(MANDATORY_OPTS)) {
    if (!(key in opts)) continue;
    for (const r of required) {
      if (!(r in opts)) {
        throw new InvalidParameterError(
          `create ${name}: missing required option: ${JSON.stringify(r)}`,
        );
      }
    }
  }
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export class VolumeStore {
  private readonly records = new Map<string, VolumeRecord>();
  private queue: Promise<unknown> = Promise.resolve();
  private tmpCounter = 0;

  private constructor(
    /** `<data-root>/volumes`. */
    readonly root: string,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Loads every complete volume under `<dataRoot>/volumes`. */
  static async open(dataRoot: string, events: EventBus, logger: Logger): Promise<VolumeStore> {
    const store = new VolumeStore(join(dataRoot, 'volumes'), events, logger);
    await mkdir(store.root, { recursive: true, mode: 0o701 });
    await store.load();
    return store;
  }

  /** Host directory holding the volume's data (Docker's Mountpoint). */
  dataDir(name: string): string {
    return join(this.root, name, '_data');
  }

  /**
   * Removes half-created volumes, and — when `liveContainers` is given — references to
   * containers that no longer exist. Local-option volumes left mounted by a previous run with
   * no references are unmounted.
   */
  async repair(liveContainers?: ReadonlySet<string>): Promise<void> {
    await this.serialized(async () => {
      for (const entry of await readdir(this.root, { withFileTypes: true })) {
        if (!entry.isDirectory() || this.records.has(entry.name)) continue;
        let complete = true;
        try {
          await lstat(join(this.root, entry.name, 'volume.json'));
        } catch (err) {
          if (!isNotFound(err)) throw err;
          complete = false;
        }
        // A volume.json that failed to parse is kept: its data may still matter to the user.
        if (complete) continue;
        this.logger.warn('removing half-created volume', { name: entry.name });
        await this.unmountOrFail(entry.name);
        await rm(join(this.root, entry.name), { recursive: true, force: true });
      }
      for (const v of this.records.values()) {
        if (liveContainers) {
          const kept = v.refs.filter((r) => liveContainers.has(r.container));
          if (kept.length !== v.refs.length) {
            await this.write({ ...v, refs: kept });
          }
        }
        const current = this.records.get(v.name);
        if (current && current.refs.length === 0 && (await isMounted(this.dataDir(v.name)))) {
          await unmountQuietly(this.dataDir(v.name));
        }
      }
    });
  }

  get(name: string): VolumeRecord | undefined {
    return this.records.get(name);
  }

  /** The volume or Docker's 404 (`get x: no such volume`). */
  mustGet(name: string): VolumeRecord {
    const v = this.records.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  list(): VolumeRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Creates a volume, or returns the existing one of that name (POST /volumes/create is
   * idempotent; labels and options of an existing volume are kept, as moby does).
   */
  create(opts: CreateVolumeOptions): Promise<VolumeRecord> {
    return this.serialized(() => this.createLocked(opts));
  }

  /** Adds references; creates the volume first when missing. Returns the volume. */
  reference(
    opts: CreateVolumeOptions & { name: string },
    refs: VolumeRef[],
  ): Promise<VolumeRecord> {
    return this.serialized(async () => {
      const v = await this.createLocked(opts);
      const fresh = refs.filter(
        (r) => !v.refs.some((o) => o.container === r.container && o.destination === r.destination),
      );
      const updated =
        fresh.length > 0 ? await this.write({ ...v, refs: [...v.refs, ...fresh] }) : v;
      await this.ensureMounted(updated);
      return updated;
    });
  }

  /** Volumes that `containerId` references. */
  usedBy(containerId: string): VolumeRecord[] {
    return this.list().filter((v) => v.refs.some((r) => r.container === containerId));
  }

  /**
   * Drops every reference of `containerId`; returns the volumes it referenced (as now
   * stored). Local-option volumes nobody references any more are unmounted.
   */
  dereference(
    containerId: string,
    which: (name: string) => boolean = () => true,
  ): Promise<VolumeRecord[]> {
    return this.serialized(async () => {
      const out: VolumeRecord[] = [];
      for (const v of this.usedBy(containerId)) {
        if (!which(v.name)) continue;
        const updated = await this.write({
          ...v,
          refs: v.refs.filter((r) => r.container !== containerId),
        });
        if (updated.refs.length === 0) await unmountQuietly(this.dataDir(v.name));
        out.push(updated);
      }
      return out;
    });
  }

  /**
   * DELETE /volumes/{name}: 409 while referenced; `force` only forgives a missing volume
   * (moby: force does not override in-use).
   */
  remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.serialized(async () => {
      const v = this.records.get(name);
      if (!v) {
        if (opts.force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      this.checkUnused(v);
      await this.removeLocked(v);
    });
  }

  /** Removes unused volumes matching `wanted`; returns the names removed and bytes freed. */
  prune(wanted: (v: VolumeRecord) => boolean): Promise<{ names: string[]; reclaimed: number }> {
    return this.serialized(async () => {
      const names: string[] = [];
      let reclaimed = 0;
      for (const v of this.list()) {
        if (v.refs.length > 0 || !wanted(v)) continue;
        const size = await this.size(v.name);
        await this.removeLocked(v);
        names.push(v.name);
        reclaimed += size;
      }
      return { names, reclaimed };
    });
  }

  /** Bytes of regular files under the volume's data (hard links counted once), as moby. */
  async size(name: string): Promise<number> {
    const seen = new Set<string>();
    const walk = async (dir: string): Promise<number> => {
      let total = 0;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return 0;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) total += await walk(p);
        else if (e.isFile()) {
          const st = await lstat(p, { bigint: true });
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
          total += Number(st.size);
        }
      }
      return total;
    };
    return walk(this.dataDir(name));
  }

  /** Docker's Volume object; with `usage`, UsageData as `docker system df -v` shows it. */
  async toApi(v: VolumeRecord, usage = false): Promise<ApiVolume> {
    const out: ApiVolume = {
      CreatedAt: v.createdAt,
      Driver: v.driver,
      Labels: v.labels,
      Mountpoint: this.dataDir(v.name),
      Name: v.name,
      Options: v.options,
      Scope: 'local',
    };
    if (usage) {
      out.UsageData = {
        Size: await this.size(v.name),
        RefCount: new Set(v.refs.map((r) => r.container)).size,
      };
    }
    return out;
  }

  // ---- internals (called with the queue held) -------------------------------------------

  private checkUnused(v: VolumeRecord): void {
    if (v.refs.length === 0) return;
    const ids = [...new Set(v.refs.map((r) => r.container))];
    throw new ConflictError(`remove ${v.name}: volume is in use - [${ids.join(', ')}]`);
  }

  private async createLocked(opts: CreateVolumeOptions): Promise<VolumeRecord> {
    const anonymous = !opts.name;
    const name = opts.name || newVolumeName();
    const driver = opts.driver || LOCAL_DRIVER;
    const existing = this.records.get(name);
    if (existing) {
      if (existing.driver !== driver) {
        throw new ConflictError(
          `create ${name}: volume name must be unique: a volume with the same name already exists with a different driver`,
        );
      }
      return existing;
    }
    validateVolumeName(name);
    if (driver !== LOCAL_DRIVER) {
      throw new NotFoundError(
        `create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`,
      );
    }
    const options = opts.driverOpts ?? null;
    if (options) validateOptions(name, options);
    const labels = anonymous ? { ...opts.labels, [ANONYMOUS_LABEL]: '' } : (opts.labels ?? null);
    await mkdir(this.dataDir(name), { recursive: true, mode: 0o755 });
    const record: VolumeRecord = {
      name,
      driver,
      labels,
      options,
      createdAt: rfc3339(new Date()),
      refs: [],
    };
    await this.write(record);
    this.events.emit('volume', 'create', name, { driver });
    return record;
  }

  private async removeLocked(v: VolumeRecord): Promise<void> {
    const dir = join(this.root, v.name);
    await this.unmountOrFail(v.name);
    // volume.json goes first: a crash mid-removal then leaves a half-created volume for repair().
    await rm(join(dir, 'volume.json'), { force: true });
    this.records.delete(v.name);
    await rm(dir, { recursive: true, force: true });
    this.events.emit('volume', 'destroy', v.name, { driver: v.driver });
  }

  /** A recursive rm must never descend into a still-mounted device (a bind of host data). */
  private async unmountOrFail(name: string): Promise<void> {
    const data = this.dataDir(name);
    await unmountQuietly(data);
    if (await isMounted(data)) {
      throw new SystemError(`remove ${name}: ${data} is still mounted`);
    }
  }

  /** Local-option volumes (`type`/`device`/`o`) are mounted while referenced. */
  private async ensureMounted(v: VolumeRecord): Promise<void> {
    if (!v.options?.type) return;
    const dir = this.dataDir(v.name);
    if (await isMounted(dir)) return;
    try {
      mountLocalOptions(v.options, dir);
    } catch (err) {
      throw new SystemError(
        `error while mounting volume '${dir}': failed to mount local volume: ${(err as Error).message}`,
      );
    }
  }

  private async load(): Promise<void> {
    for (const entry of await readdir(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const file = join(this.root, entry.name, 'volume.json');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const parsed = RecordSchema.safeParse(json);
      if (!parsed.success || parsed.data.name !== entry.name) {
        this.logger.warn('ignoring unreadable volume metadata', { file });
        continue;
      }
      this.records.set(entry.name, parsed.data);
    }
  }

  private async write(v: VolumeRecord): Promise<VolumeRecord> {
    const path = join(this.root, v.name, 'volume.json');
    const tmp = `${path}.${process.pid}.${this.tmpCounter++}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(v, null, 2));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    this.records.set(v.name, v);
    return v;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
