/**
 * The seam between containers and volumes: what a container asks for (Binds, Mounts, Tmpfs,
 * the image's VOLUMEs) and what it gets back (mounts for the OCI spec, MountPoints for
 * inspect). Volume references are counted per container so `docker volume rm` refuses a
 * volume in use and `docker rm -v` removes the container's anonymous volumes.
 */
import { NotImplementedError } from '../api/errors.js';
import type { SpecMount } from '../containers/oci-spec.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';

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
  /** The image config's Volumes (container paths) → anonymous volumes unless covered. */
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
  /** At daemon start: drops half-written volumes and references to containers now gone. */
  repair(): Promise<void>;
  /**
   * Validates the request (Docker's messages, InvalidParameterError), creates missing
   * named/anonymous volumes (copying image content from `rootfs` at the mount point into a NEW
   * empty volume, as Docker does unless nocopy) and records that `containerId` uses them.
   * Calling it again for the same container (a restart) re-uses its volumes.
   */
  prepareMounts(req: MountRequest, rootfs: string): Promise<PreparedMounts>;
  /** On container removal: drop references; with removeAnonymous (`rm -v`) delete anonymous volumes. */
  releaseMounts(containerId: string, opts: { removeAnonymous: boolean }): Promise<void>;
}

/** Placeholder until the store lands; replaced by the real implementation in this module. */
export function notImplemented(what: string): never {
  throw new NotImplementedError(`volumes: ${what} is not implemented yet`);
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
export function createVolumeService(opts: VolumeServiceOptions): VolumeService {
  void opts;
  return {
    repair: () => Promise.resolve(),
    prepareMounts: () => notImplemented('prepareMounts'),
    releaseMounts: () => Promise.resolve(),
  };
}
