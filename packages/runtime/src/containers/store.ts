/**
 * The container store: one directory per container under `<data-root>/containers/<id>/`,
 * holding `config.v2.json` (Docker's shape: Config, HostConfig, State, ...), the writable
 * overlay layer (`upper/`, `work/`), the json-file log and the shim's FIFOs. The JSON is
 * written atomically (temp file + fsync + rename) and validated with zod when read back, so a
 * crash mid-write leaves the previous version, never a torn one.
 *
 * Lookup follows moby's order: full ID, then name (with or without the slash), then a unique
 * ID prefix.
 */
import { open, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConflictError, InvalidParameterError, NotFoundError } from '../api/errors.js';
import { discardDir, sweepDiscarded } from '../os/discard.js';

export const stateSchema = z.object({
  Status: z.enum(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']),
  Running: z.boolean(),
  Paused: z.boolean(),
  Restarting: z.boolean(),
  OOMKilled: z.boolean(),
  Dead: z.boolean(),
  Pid: z.number().int(),
  ExitCode: z.number().int(),
  Error: z.string(),
  StartedAt: z.string(),
  FinishedAt: z.string(),
});
export type ContainerState = z.infer<typeof stateSchema>;

/** What berthd needs to find a running container's shim again after a restart. */
export const shimInfoSchema = z.object({
  /** The shim's pid and its start time (field 22 of /proc/<pid>/stat), to spot pid reuse. */
  pid: z.number().int().positive(),
  startTime: z.string(),
  tty: z.boolean(),
  /** The container's stdin is a FIFO berthd writes (else /dev/null). */
  stdin: z.boolean(),
  /** Where the rootfs overlay is mounted while the container runs. */
  rootfs: z.string(),
  /** A network sandbox was created (so it must be released). */
  sandbox: z.boolean(),
});
export type ShimInfo = z.infer<typeof shimInfoSchema>;

const record = z.record(z.string(), z.unknown());

export const containerRecordSchema = z.looseObject({
  ID: z.string().regex(/^[a-f0-9]{64}$/),
  Created: z.string(),
  Path: z.string(),
  Args: z.array(z.string()),
  Config: z.looseObject({
    Image: z.string().optional(),
    Hostname: z.string().optional(),
    Domainname: z.string().optional(),
    User: z.string().optional(),
    WorkingDir: z.string().optional(),
    ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    Volumes: z.record(z.string(), z.unknown()).nullish(),
    Labels: z.record(z.string(), z.string()).nullish(),
    Tty: z.boolean().optional(),
    OpenStdin: z.boolean().optional(),
    StdinOnce: z.boolean().optional(),
    StopSignal: z.string().optional(),
    StopTimeout: z.number().int().nullish(),
    Env: z.array(z.string()).nullish(),
    Cmd: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
  }),
  HostConfig: z.looseObject({
    NetworkMode: z.string().optional(),
    AutoRemove: z.boolean().optional(),
    RestartPolicy: z
      .object({ Name: z.string().optional(), MaximumRetryCount: z.number().int().optional() })
      .nullish(),
    LogConfig: z
      .object({ Type: z.string().optional(), Config: z.record(z.string(), z.string()).nullish() })
      .nullish(),
  }),
  /** The image ID (config digest). */
  Image: z.string(),
  Name: z.string(),
  RestartCount: z.number().int(),
  Driver: z.string(),
  Platform: z.string(),
  State: stateSchema,
  NetworkSettings: record,
  NetworkingConfig: record.nullish(),
  Mounts: z.array(record),
  LogPath: z.string(),
  ResolvConfPath: z.string(),
  HostnamePath: z.string(),
  HostsPath: z.string(),
  HasBeenStartedBefore: z.boolean(),
  HasBeenManuallyStopped: z.boolean(),
  Shim: shimInfoSchema.nullish(),
});
export type ContainerRecord = z.infer<typeof containerRecordSchema>;

const CONFIG_FILE = 'config.v2.json';

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();
  /** Serialises writes per container so an older state never lands after a newer one. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /** Reads every container; unreadable ones are reported and left on disk untouched. */
  async load(onInvalid: (id: string, err: unknown) => void): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o710 });
    sweepDiscarded(this.root);
    for (const id of await readdir(this.root)) {
      if (!/^[a-f0-9]{64}$/.test(id)) continue;
      try {
        const raw: unknown = JSON.parse(await readFile(join(this.dir(id), CONFIG_FILE), 'utf8'));
        const rec = containerRecordSchema.parse(raw);
        if (rec.ID !== id) throw new Error(`ID ${rec.ID} does not match its directory`);
        this.byId.set(id, rec);
        this.byName.set(rec.Name, id);
      } catch (err) {
        onInvalid(id, err);
      }
    }
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ContainerRecord | undefined {
    return this.byId.get(id);
  }

  /** moby's GetContainer: full ID, name, unique prefix; undefined when nothing matches. */
  find(idOrName: string): ContainerRecord | undefined {
    const exact = this.byId.get(idOrName);
    if (exact) return exact;
    const byName = this.byName.get(idOrName.startsWith('/') ? idOrName : `/${idOrName}`);
    if (byName) return this.byId.get(byName);
    if (!/^[a-f0-9]+$/.test(idOrName)) return undefined;
    const matches = [...this.byId.keys()].filter((id) => id.startsWith(idOrName));
    if (matches.length > 1) {
      throw new InvalidParameterError(`multiple IDs found with provided prefix: ${idOrName}`);
    }
    return matches[0] === undefined ? undefined : this.byId.get(matches[0]);
  }

  /** Like find(), but 404 `No such container: x`. */
  lookup(idOrName: string): ContainerRecord {
    const rec = this.find(idOrName);
    if (!rec) throw new NotFoundError(`No such container: ${idOrName}`);
    return rec;
  }

  /** Claims `name` (with slash) for `id`; 409 with moby's message when taken. */
  reserveName(name: string, id: string): void {
    const owner = this.byName.get(name);
    if (owner !== undefined && owner !== id) {
      throw new ConflictError(
        `Conflict. The container name "${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byName.set(name, id);
  }

  releaseName(name: string, id: string): void {
    if (this.byName.get(name) === id) this.byName.delete(name);
  }

  hasName(name: string): boolean {
    return this.byName.has(name);
  }

  /** Adds or replaces the record in memory and writes it durably. */
  save(rec: ContainerRecord): Promise<void> {
    this.byId.set(rec.ID, rec);
    this.byName.set(rec.Name, rec.ID);
    const text = `${JSON.stringify(rec)}\n`;
    const previous = this.writes.get(rec.ID) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => writeAtomic(this.dir(rec.ID), CONFIG_FILE, text));
    this.writes.set(rec.ID, next);
    return next.finally(() => {
      if (this.writes.get(rec.ID) === next) this.writes.delete(rec.ID);
    });
  }

  /** Forgets the container and deletes its directory. */
  async remove(id: string): Promise<void> {
    const rec = this.byId.get(id);
    await (this.writes.get(id) ?? Promise.resolve()).catch(() => undefined);
    this.byId.delete(id);
    if (rec) this.releaseName(rec.Name, id);
    void discardDir(this.dir(id));
  }
}

/**
 * temp + fsync + rename: the file is either the old or the new version, also after a power
 * loss. The directory is not synced (as moby's atomic writer does not): after a power loss a
 * save may be lost, never torn — and it costs a second journal commit on every state change.
 */
export async function writeAtomic(dir: string, name: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${name}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
}
