/**
 * The seam between containers and volumes: what a container asks for (Binds, Mounts, Tmpfs,
 * the image's VOLUMEs) and what it gets back (mounts for the OCI spec, MountPoints for
 * inspect). Volume references are counted per container so `docker volume rm` refuses a
 * volume in use and `docker rm -v` removes the container's anonymous volumes.
 */
import { lstat, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidParameterError } from '../api/errors.js';
import type { SpecMount } from '../containers/oci-spec.js';
import { resolveInRoot } from '../containers/rootfs-path.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { copyImageContent, isEmptyDir } from './copy-up.js';
import { parseBind, parseMount, type PlannedMount } from './mount-spec.js';
import {
  ANONYMOUS_LABEL,
  isAnonymous,
  LOCAL_DRIVER,
  newVolumeName,
  type VolumeRecord,
  VolumeStore,
} from './store.js';

/** Docker's HostConfig.Mounts entry (the swagger's `Mount`). */
export interface DockerMount {
  /** bind | volume | tmpfs (npipe, cluster and image are refused). */
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
  } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string> | null;
    DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
    Subpath?: string;
  } | null;
  TmpfsOptions?: {
    SizeBytes?: number;
    Mode?: number;
    Options?: string[][] | null;
  } | null;
}

/** Docker's MountPoint as `docker inspect` shows it under `Mounts`. */
export interface DockerMountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface MountRequest {
  containerId: string;
  /** HostConfig.Binds: "/host:/c:ro", "name:/c", "/c". */
  binds?: string[] | null;
  /** HostConfig.Mounts (type bind|volume|tmpfs). */
  mounts?: DockerMount[] | null;
  /**
   * HostConfig.Tmpfs: only consulted so image VOLUMEs at these paths are not turned into
   * anonymous volumes (and duplicates are refused). The tmpfs mounts themselves are NOT in the
   * result: buildSpec mounts `hostConfig.Tmpfs` itself.
   */
  tmpfs?: Record<string, string> | null;
  /**
   * Config.Volumes merged with the image config's Volumes (container paths) → anonymous
   * volumes unless covered. The docker CLI sends a bare `-v /data` here, not in Binds.
   */
  imageVolumes?: string[];
  /**
   * HostConfig.VolumesFrom, already resolved by the caller to the other containers' mount
   * points (with the `:ro`/`:rw` mode applied to RW). Re-mounted unless a user mount covers
   * the destination.
   */
  volumesFrom?: DockerMountPoint[];
}

export interface PreparedMounts {
  /** For buildSpec's `mounts`: binds (volumes are binds of their `_data` dir) and tmpfs. */
  specMounts: SpecMount[];
  /** For inspect's `Mounts`. */
  mountPoints: DockerMountPoint[];
}

export interface VolumeService {
  /**
   * At daemon start: removes half-created volumes; with `liveContainers`, also drops
   * references of containers that no longer exist.
   */
  repair(liveContainers?: ReadonlySet<string>): Promise<void>;
  /**
   * Validates the request (Docker's messages, InvalidParameterError), creates missing
   * named/anonymous volumes (copying image content from `rootfs` at the mount point into a NEW
   * empty volume, as Docker does unless nocopy) and records that `containerId` uses them.
   * Calling it again for the same container (a restart) re-uses its volumes. Call it at
   * container create (moby takes the references then, so `volume rm` refuses a volume of a
   * created container) with `rootfs` already mounted; on failure nothing it added is left.
   */
  prepareMounts(req: MountRequest, rootfs: string): Promise<PreparedMounts>;
  /** On container removal: drop references; with removeAnonymous (`rm -v`) delete anonymous volumes. */
  releaseMounts(containerId: string, opts: { removeAnonymous: boolean }): Promise<void>;
}

/** What the volume service needs from the engine. */
export interface VolumeServiceOptions {
  /** `<data-root>`; volumes live in `<data-root>/volumes/<name>/_data`. */
  dataRoot: string;
  events: EventBus;
  logger: Logger;
}

/**
 * Builds the local volume service (the store behind /volumes and the mount planner). The
 * daemon creates one, calls `repair()` at start and hands it to registerVolumeRoutes.
 */
export async function createVolumeService(opts: VolumeServiceOptions): Promise<LocalVolumeService> {
  return new LocalVolumeService(
    await VolumeStore.open(opts.dataRoot, opts.events, opts.logger),
    opts.events,
  );
}

export class LocalVolumeService implements VolumeService {
  constructor(
    readonly store: VolumeStore,
    private readonly events: EventBus,
  ) {}

  repair(liveContainers?: ReadonlySet<string>): Promise<void> {
    return this.store.repair(liveContainers);
  }

  async prepareMounts(req: MountRequest, rootfs: string): Promise<PreparedMounts> {
    const plan = planMounts(req);
    await checkImageVolumeTargets(plan, rootfs);
    const before = new Set(this.store.usedBy(req.containerId).map((v) => v.name));
    try {
      return await this.mountAll(req, plan, rootfs);
    } catch (err) {
      // Undo what this call added, so a failed create leaves no reference or new volume behind.
      for (const v of await this.store.dereference(req.containerId, (n) => !before.has(n))) {
        if (isAnonymous(v) && v.refs.length === 0) await this.store.remove(v.name, { force: true });
      }
      throw err;
    }
  }

  private async mountAll(
    req: MountRequest,
    plan: PlanEntry[],
    rootfs: string,
  ): Promise<PreparedMounts> {
    const specMounts: SpecMount[] = [];
    const mountPoints: DockerMountPoint[] = [];
    for (const p of plan) {
      if (p.kind === 'from') {
        const mp = p.point;
        if (mp.Type === 'volume' && mp.Name) {
          await this.store.reference({ name: mp.Name, driver: mp.Driver }, [
            { container: req.containerId, destination: mp.Destination },
          ]);
        }
        mountPoints.push(mp);
        specMounts.push(fromMountPoint(mp));
        continue;
      }
      const m = p.mount;
      if (m.type === 'tmpfs') {
        specMounts.push({
          type: 'tmpfs',
          destination: m.destination,
          ...(m.rw ? {} : { options: 'ro' }),
          ...(m.sizeBytes ? { sizeBytes: m.sizeBytes } : {}),
          ...(m.mode ? { mode: m.mode } : {}),
        });
        mountPoints.push({
          Type: 'tmpfs',
          Source: '',
          Destination: m.destination,
          Mode: '',
          RW: m.rw,
          Propagation: '',
        });
      } else if (m.type === 'bind') {
        if (m.createSource) await mkdir(m.source, { recursive: true, mode: 0o755 });
        specMounts.push({
          type: 'bind',
          source: m.source,
          destination: m.destination,
          readOnly: !m.rw,
          propagation: m.propagation,
          ...(m.nonRecursive ? { nonRecursive: true } : {}),
        });
        mountPoints.push({
          Type: 'bind',
          Source: m.source,
          Destination: m.destination,
          Mode: m.mode,
          RW: m.rw,
          Propagation: m.propagation,
        });
      } else {
        const v = await this.volumeFor(req.containerId, m);
        const source = this.store.dataDir(v.name);
        if (m.copyData && (await isEmptyDir(source))) {
          await copyImageContent(rootfs, m.destination, source);
        }
        specMounts.push({ type: 'bind', source, destination: m.destination, readOnly: !m.rw });
        mountPoints.push({
          Type: 'volume',
          Name: v.name,
          Source: source,
          Destination: m.destination,
          Driver: v.driver,
          Mode: m.mode,
          RW: m.rw,
          Propagation: '',
        });
        this.events.emit('volume', 'mount', v.name, {
          container: req.containerId,
          destination: m.destination,
          driver: v.driver,
          propagation: '',
          'read/write': String(m.rw),
        });
      }
    }
    return { specMounts, mountPoints };
  }

  async releaseMounts(containerId: string, opts: { removeAnonymous: boolean }): Promise<void> {
    for (const v of await this.store.dereference(containerId)) {
      this.events.emit('volume', 'unmount', v.name, { container: containerId, driver: v.driver });
      if (opts.removeAnonymous && isAnonymous(v) && v.refs.length === 0) {
        await this.store.remove(v.name, { force: true });
      }
    }
  }

  /**
   * The volume a planned volume mount uses: the named one (created when missing), or for an
   * anonymous mount the one this container already got at that destination (a restart), or a
   * new one. The reference is recorded before the volume is returned.
   */
  private async volumeFor(
    containerId: string,
    m: Extract<PlannedMount, { type: 'volume' }>,
  ): Promise<VolumeRecord> {
    const ref = { container: containerId, destination: m.destination };
    let name = m.name;
    if (!name) {
      const mine = this.store
        .usedBy(containerId)
        .find(
          (v) =>
            isAnonymous(v) &&
            v.refs.some((r) => r.container === containerId && r.destination === m.destination),
        );
      name = mine?.name;
    }
    // A new anonymous volume is created together with its reference, so a concurrent prune
    // never sees it unreferenced.
    return this.store.reference(
      {
        name: name ?? newVolumeName(),
        driver: m.driver ?? LOCAL_DRIVER,
        driverOpts: m.driverOpts ?? null,
        labels: name ? (m.labels ?? null) : { ...m.labels, [ANONYMOUS_LABEL]: '' },
      },
      [ref],
    );
  }
}

type PlanEntry =
  | { kind: 'mount'; mount: PlannedMount; fromImage: boolean }
  | { kind: 'from'; point: DockerMountPoint };

function cleanPath(p: string): string {
  return posix.normalize(p).replace(/(.)\/$/, '$1');
}

/**
 * Orders and de-duplicates what a container mounts, as moby's registerMountPoints does:
 * VolumesFrom first (a user mount at the same destination replaces it), then Binds, then
 * Mounts — a destination twice among those (or also in Tmpfs) is refused — and last the
 * image's VOLUMEs that nothing else covers.
 */
export function planMounts(req: MountRequest): PlanEntry[] {
  const byDest = new Map<string, PlanEntry>();
  for (const point of req.volumesFrom ?? []) byDest.set(point.Destination, { kind: 'from', point });
  const tmpfs = new Set(Object.keys(req.tmpfs ?? {}).map(cleanPath));
  const user = new Set<string>();
  const add = (mount: PlannedMount) => {
    if (user.has(mount.destination) || tmpfs.has(mount.destination)) {
      throw new InvalidParameterError(`Duplicate mount point: ${mount.destination}`);
    }
    user.add(mount.destination);
    byDest.set(mount.destination, { kind: 'mount', mount, fromImage: false });
  };
  for (const raw of req.binds ?? []) add(parseBind(raw));
  for (const m of req.mounts ?? []) add(parseMount(m));
  for (const raw of req.imageVolumes ?? []) {
    const destination = cleanPath(raw);
    if (byDest.has(destination) || tmpfs.has(destination)) continue;
    byDest.set(destination, {
      kind: 'mount',
      mount: { type: 'volume', destination, rw: true, mode: '', copyData: true },
      fromImage: true,
    });
  }
  return [...byDest.values()];
}

/** moby refuses an image VOLUME where the image has a file (not a directory). */
async function checkImageVolumeTargets(plan: PlanEntry[], rootfs: string): Promise<void> {
  for (const p of plan) {
    if (p.kind !== 'mount' || !p.fromImage) continue;
    const resolved = await resolveInRoot(rootfs, p.mount.destination);
    if (resolved.missing) continue;
    if (!(await lstat(resolved.onHost)).isDirectory()) {
      throw new InvalidParameterError(
        `cannot mount volume over existing file, file exists ${resolved.onHost}`,
      );
    }
  }
}

function fromMountPoint(mp: DockerMountPoint): SpecMount {
  if (mp.Type === 'tmpfs') {
    return { type: 'tmpfs', destination: mp.Destination, ...(mp.RW ? {} : { options: 'ro' }) };
  }
  const propagation = mp.Propagation as Extract<SpecMount, { type: 'bind' }>['propagation'] | '';
  return {
    type: 'bind',
    source: mp.Source,
    destination: mp.Destination,
    readOnly: !mp.RW,
    ...(propagation ? { propagation } : {}),
  };
}
