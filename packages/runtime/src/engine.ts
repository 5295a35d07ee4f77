/**
 * Everything a route or service of berthd needs, built once by the daemon at start. Route
 * modules take an `Engine` instead of importing singletons, so tests can build one on a
 * temporary data root.
 */
import type { EventBus } from './events/bus.js';
import type { ContainerService } from './containers/service.js';
import type { ContentStore } from './images/content-store.js';
import type { ImageStore } from './images/image-store.js';
import type { Logger } from './logging/logger.js';
import type { Snapshotter } from './storage/snapshots.js';
import type { LocalVolumeService } from './volumes/service.js';

export interface EngineConfig {
  /** The `--data-root`: images, layers and metadata. */
  dataRoot: string;
  /** The `--exec-root`: runtime state (sockets, pids) that need not survive a reboot. */
  execRoot: string;
  /** Registries (host[:port] or CIDR) reachable over plain HTTP besides loopback ones. */
  insecureRegistries: string[];
  /** Engine version string reported by /version, e.g. "0.1.0". */
  version: string;
  /** Source revision of this build (short git hash), or "unknown". */
  gitCommit?: string;
  /** When this build was made (RFC 3339), or undefined when not known. */
  buildTime?: string;
  /** A stable ID of this engine instance (kept under the data root), for /info. */
  id?: string;
  /** `--debug`: reported by /info. */
  debug?: boolean;
  /**
   * `--host-gateway-ip`: what `host-gateway` in --add-host means, and where containers find
   * `host.docker.internal` (in Berth's VM: QEMU's user-net gateway, i.e. the user's host).
   */
  hostGatewayIp?: string;
  /** `--ip`: where a port published without an address listens (default 127.0.0.1). */
  defaultBindIp?: string;
  /** `--init-path`: the static init binary `run --init` uses (default: docker-init/tini-static). */
  initPath?: string;
}

export interface Engine {
  config: EngineConfig;
  content: ContentStore;
  snapshots: Snapshotter;
  images: ImageStore;
  events: EventBus;
  logger: Logger;
  /** Named and anonymous volumes; absent in engines built for image-only tests. */
  volumes?: LocalVolumeService;
  /**
   * Aborted when the daemon shuts down: long-running handlers (event streams, followed logs)
   * end their response then instead of holding the shutdown open.
   */
  shutdown?: AbortSignal;
  /** Containers (lifecycle, logs, attach); absent in image-only test engines. */
  containers?: ContainerService;
  /** The containers created from an image (images/delete.ts refuses to remove those). */
  containersUsingImage?(id: string): Promise<Array<{ id: string; running: boolean }>>;
}
