/**
 * The container lifecycle: create, start, stop, kill, restart, pause, rename, remove, wait —
 * moby's daemon semantics over the store (store.ts), a shim per running container (shim.ts),
 * the rootfs overlay (rootfs.ts), the OCI spec (oci-spec.ts), and the network and volume
 * services through their seams. Operations on one container are serialised; the exit of a run
 * is handled by the monitor of that run, which also applies the restart policy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  SystemError,
} from '../api/errors.js';
import type { Engine } from '../engine.js';
import { readImageConfig, familiar } from '../images/inspect.js';
import { chainIds, type ContainerConfig as ImageContainerConfig } from '../images/oci.js';
import { normalizeRef } from '../images/image-store.js';
import type { Logger } from '../logging/logger.js';
import type { NetworkService, Sandbox, SandboxRequest } from '../networks/service.js';
import type { DockerMount, VolumeService } from '../volumes/service.js';
import { ContainerIo } from './attach.js';
import { containerCgroup, detectCgroup, type CgroupInfo } from './cgroups.js';
import { findInitBinary } from './init-binary.js';
import { JsonFileLog, parseLogConfig } from './logs.js';
import { createRuntime, detectRuntime, runSupportsKeep, type OciRuntime } from './oci-runtime.js';
import {
  buildSpec,
  mergeImageConfig,
  commandLine,
  validateHostConfig,
  type NamespaceSetting,
  type SpecHostConfig,
  type SpecMount,
} from './oci-spec.js';
import { RestartManager, validateRestartPolicy, type RestartPolicy } from './restart.js';
import { resolveInRoot } from './rootfs-path.js';
import { diskUsage, mountRootfs, rootfsPaths, unmountRootfs } from './rootfs.js';
import {
  lastRuncError,
  readExitFile,
  resizeTty,
  shimPaths,
  startShim,
  type ShimHandle,
  type StartedShim,
} from './shim.js';
import {
  initialState,
  nowRfc3339Nano,
  setPaused,
  setRestarting,
  setRunning,
  setStopped,
} from './state.js';
import { ContainerStore, type ContainerRecord } from './store.js';
import { generateName, newContainerId, normalizeName } from './names.js';

/** The body of POST /containers/create: Docker's Config plus HostConfig and NetworkingConfig. */
export interface CreateRequest {
  [key: string]: unknown;
  Image?: string;
  Hostname?: string;
  Domainname?: string;
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  StopSignal?: string;
  StopTimeout?: number | null;
  HostConfig?: (SpecHostConfig & Record<string, unknown>) | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, Record<string, unknown>> | null } | null;
}

/** What other modules (exec, stats, archive, ...) see of a container. */
export interface ContainerView {
  id: string;
  name: string;
  record: ContainerRecord;
  /** The mounted root filesystem while running (host path). */
  rootfs: string;
  /** The container's writable layer. */
  upperDir: string;
  /** The image's layer dirs, top first (overlay lowerdirs). */
  lowerDirs: () => Promise<string[]>;
  /** The container's init pid while running, else 0. Join its namespaces via /proc/<pid>/ns/*. */
  pid: number;
  running: boolean;
  paused: boolean;
  /** The OCI bundle directory; its config.json is the runtime spec the container runs with. */
  bundle: string;
}

interface Live {
  io: ContainerIo;
  restart: RestartManager;
  shim?: ShimHandle;
  /** Resolves once the current run's exit was handled (state saved, resources released). */
  exited?: Promise<void>;
  restartTimer?: NodeJS.Timeout;
  exitWaiters: Set<(code: number) => void>;
  removeWaiters: Set<() => void>;
  removing?: boolean;
  /** `docker restart` is stopping it: an AutoRemove container is not removed (as in moby). */
  restarting?: boolean;
}

const DEFAULT_STOP_TIMEOUT_S = 10;
const START_TIMEOUT_MS = 60_000;
/** Container stops at daemon shutdown wait at most this long before SIGKILL. */
const SHUTDOWN_STOP_S = 5;

/** Signal name or number → number; 400 `Invalid signal: x` otherwise. */
export function parseSignal(sig: string): number {
  if (/^\d+$/.test(sig)) {
    const n = Number(sig);
    if (n > 0 && n <= 64) return n;
  } else {
    const name = sig.toUpperCase().startsWith('SIG')
      ? sig.toUpperCase()
      : `SIG${sig.toUpperCase()}`;
    const n = (osConstants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
    if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  }
  throw new InvalidParameterError(`Invalid signal: ${sig}`);
}

const SIGKILL = 9;

export class ContainerService {
  readonly store: ContainerStore;
  readonly runtime: OciRuntime;
  readonly runcBinary: string;
  /** The runtime's `run` takes --keep (every runc; crun from 1.9); used where the OOM count needs it. */
  private runKeepAnswer: boolean | undefined;
  readonly runtimeRoot: string;
  private readonly live = new Map<string, Live>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly cgroup: CgroupInfo;
  private readonly log: Logger;
  private shuttingDown = false;

  constructor(
    private readonly engine: Engine,
    readonly networks: NetworkService | undefined,
    readonly volumes: VolumeService | undefined,
  ) {
    this.store = new ContainerStore(join(engine.config.dataRoot, 'containers'));
    // Under the data root, not the exec root: the shims outlive berthd, and so must the
    // runtime's state of their containers.
    this.runtimeRoot = join(engine.config.dataRoot, 'runtime');
    this.cgroup = detectCgroup();
    const choice = detectRuntime(this.cgroup);
    this.runcBinary = choice.binary;
    this.runtime = createRuntime(this.runtimeRoot, choice);
    this.log = engine.logger.child({ component: 'containers' });
  }

  /**
   * Whether the runtime takes `run --keep`, asked when a container first needs it: spawning
   * the runtime at start would hold up berthd's first answer (seconds in an emulated VM).
   */
  private get runKeep(): boolean {
    this.runKeepAnswer ??= runSupportsKeep(this.runcBinary);
    return this.runKeepAnswer;
  }

  // ---- bookkeeping -----------------------------------------------------------------------

  liveOf(rec: ContainerRecord): Live {
    let l = this.live.get(rec.ID);
    if (!l) {
      l = {
        io: new ContainerIo(),
        restart: new RestartManager(rec.HostConfig.RestartPolicy ?? {}),
        exitWaiters: new Set(),
        removeWaiters: new Set(),
      };
      this.live.set(rec.ID, l);
    }
    return l;
  }

  /** Runs `fn` after every earlier operation on container `id`. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    this.locks.set(id, next);
    void next
      .finally(() => {
        if (this.locks.get(id) === next) this.locks.delete(id);
      })
      .catch(() => undefined);
    return next;
  }

  private emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.engine.events.emit('container', action, rec.ID, {
      ...(rec.Config.Labels ?? {}),
      image: rec.Config.Image ?? rec.Image,
      name: rec.Name.replace(/^\//, ''),
      ...extra,
    });
  }

  dir(id: string): string {
    return this.store.dir(id);
  }

  /** For other modules: the container by ID, name or prefix (404 when unknown). */
  get(idOrName: string): ContainerView {
    const rec = this.store.lookup(idOrName);
    const paths = rootfsPaths(this.dir(rec.ID));
    return {
      id: rec.ID,
      name: rec.Name,
      record: rec,
      rootfs: paths.rootfs,
      upperDir: paths.upper,
      lowerDirs: () => this.lowerDirs(rec),
      pid: rec.State.Pid,
      running: rec.State.Running && !rec.State.Restarting,
      paused: rec.State.Paused,
      bundle: this.dir(rec.ID),
    };
  }

  list(): ContainerRecord[] {
    return this.store.all();
  }

  io(rec: ContainerRecord): ContainerIo {
    return this.liveOf(rec).io;
  }

  async lowerDirs(rec: ContainerRecord): Promise<string[]> {
    const config = await readImageConfig(this.engine.content, rec.Image);
    const chain = chainIds(config.rootfs.diff_ids);
    const top = chain[chain.length - 1];
    return top === undefined ? [] : this.engine.snapshots.lowerDirs(top);
  }

  async sizes(rec: ContainerRecord): Promise<{ rw: number; rootFs: number }> {
    const rw = await diskUsage(rootfsPaths(this.dir(rec.ID)).upper);
    let image = 0;
    try {
      const config = await readImageConfig(this.engine.content, rec.Image);
      for (const c of chainIds(config.rootfs.diff_ids)) {
        image += (await this.engine.snapshots.stat(c))?.size ?? 0;
      }
    } catch {
      // the image is gone
    }
    return { rw, rootFs: rw + image };
  }

  /**
   * The record with current network settings: a stopped container's networks can change
   * (`docker network connect/disconnect`), which only NetworkService knows.
   */
  async current(rec: ContainerRecord): Promise<ContainerRecord> {
    if (rec.State.Running || !this.networks) return rec;
    try {
      const s = await this.networks.settingsFor(this.sandboxRequest(rec));
      return Object.keys(s).length > 0 ? { ...rec, NetworkSettings: s } : rec;
    } catch {
      return rec;
    }
  }

  containersUsingImage(id: string): Promise<Array<{ id: string; running: boolean }>> {
    return Promise.resolve(
      this.store
        .all()
        .filter((r) => r.Image === id)
        .map((r) => ({ id: r.ID, running: r.State.Running })),
    );
  }

  // ---- create ----------------------------------------------------------------------------

  async create(
    body: CreateRequest,
    nameParam: string | undefined,
  ): Promise<{ Id: string; Warnings: string[] }> {
    const imageRef = body.Image;
    if (!imageRef)
      throw new InvalidParameterError('Config cannot be empty in order to create a container');
    const image = await this.engine.images.lookup(imageRef);
    if (!image) throw new NotFoundError(`No such image: ${displayRef(imageRef)}`);
    const imageConfig = (await readImageConfig(this.engine.content, image.id)).config ?? {};
    const hostConfig = { ...(body.HostConfig ?? {}) } as SpecHostConfig & Record<string, unknown>;
    validateHostConfig(hostConfig);
    const autoRemove = hostConfig.AutoRemove === true;
    validateRestartPolicy(hostConfig.RestartPolicy as RestartPolicy | undefined, autoRemove);
    const logConfig = (hostConfig.LogConfig ?? {}) as {
      Type?: string;
      Config?: Record<string, string>;
    };
    parseLogConfig(logConfig);
    hostConfig.LogConfig = { Type: logConfig.Type || 'json-file', Config: logConfig.Config ?? {} };
    hostConfig.RestartPolicy ??= { Name: 'no', MaximumRetryCount: 0 };
    if (!(hostConfig.RestartPolicy as RestartPolicy).Name) {
      hostConfig.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
    }
    // moby's DefaultDaemonNetworkMode: "default" is the bridge network.
    if (!hostConfig.NetworkMode || hostConfig.NetworkMode === 'default') {
      hostConfig.NetworkMode = 'bridge';
    }
    const endpoints = body.NetworkingConfig?.EndpointsConfig;
    if (endpoints?.default) {
      endpoints.bridge = endpoints.default;
      delete endpoints.default;
    }
    await this.checkNamespaceModes(hostConfig);
    if (this.networks && !hostConfig.NetworkMode.startsWith('container:')) {
      await this.networks.validate({
        networkMode: hostConfig.NetworkMode,
        ...(body.NetworkingConfig?.EndpointsConfig
          ? { endpointsConfig: body.NetworkingConfig.EndpointsConfig }
          : {}),
      });
    }

    const id = newContainerId();
    let name: string;
    if (nameParam) {
      name = normalizeName(nameParam);
      this.store.reserveName(name, id);
    } else {
      let retry = 0;
      do name = generateName(retry++);
      while (this.store.hasName(name));
      this.store.reserveName(name, id);
    }

    try {
      const config = this.mergeConfig(body, imageConfig, id, hostConfig);
      const args = commandLine(config);
      const dir = this.dir(id);
      await mkdir(dir, { recursive: true, mode: 0o710 });
      const paths = rootfsPaths(dir);
      await mkdir(paths.upper, { recursive: true });
      await mkdir(paths.work, { recursive: true });
      const rec: ContainerRecord = {
        ID: id,
        Created: nowRfc3339Nano(),
        Path: args[0] ?? '',
        Args: args.slice(1),
        Config: config,
        HostConfig: hostConfig,
        Image: image.id,
        Name: name,
        RestartCount: 0,
        Driver: 'overlayfs',
        Platform: 'linux',
        State: initialState(),
        NetworkSettings: await this.stoppedNetworkSettings(id, body, hostConfig, name, config),
        NetworkingConfig: body.NetworkingConfig ?? null,
        Mounts: [],
        LogPath: join(dir, `${id}-json.log`),
        ResolvConfPath: join(dir, 'resolv.conf'),
        HostnamePath: join(dir, 'hostname'),
        HostsPath: join(dir, 'hosts'),
        HasBeenStartedBefore: false,
        HasBeenManuallyStopped: false,
        Shim: null,
      };
      await this.createMounts(rec, imageConfig);
      await this.store.save(rec);
      this.emit(rec, 'create');
      return { Id: id, Warnings: [] };
    } catch (err) {
      this.store.releaseName(name, id);
      await this.volumes?.releaseMounts(id, { removeAnonymous: true }).catch(() => undefined);
      await this.store.remove(id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Volumes are prepared at create, as moby does (refusing bad mounts with 400, taking the
   * references so `volume rm` refuses them, copying image content into new volumes — which
   * needs the rootfs mounted for a moment).
   */
  private async createMounts(rec: ContainerRecord, image: ImageContainerConfig): Promise<void> {
    if (!this.volumes || !asksForMounts(rec, image)) return;
    const paths = rootfsPaths(this.dir(rec.ID));
    await mountRootfs(paths, await this.lowerDirs(rec), this.engine.config.dataRoot);
    try {
      const prepared = await this.prepareVolumes(rec, image, paths.rootfs);
      rec.Mounts = prepared.mountPoints as Array<Record<string, unknown>>;
    } finally {
      unmountRootfs(paths);
    }
  }

  /** moby's mergeAndVerifyConfig: the image's defaults under the request's values. */
  private mergeConfig(
    body: CreateRequest,
    image: ImageContainerConfig,
    id: string,
    hostConfig: SpecHostConfig,
  ): ContainerRecord['Config'] {
    const { HostConfig, NetworkingConfig, ...requested } = body;
    void HostConfig;
    void NetworkingConfig;
    const merged = mergeImageConfig(requested, image);
    const hostNet = hostConfig.NetworkMode === 'host';
    return {
      ...requested,
      Hostname: body.Hostname || (hostNet ? osHostname() : id.slice(0, 12)),
      Domainname: body.Domainname ?? '',
      User: merged.User ?? '',
      AttachStdin: requested.AttachStdin ?? false,
      AttachStdout: requested.AttachStdout ?? false,
      AttachStderr: requested.AttachStderr ?? false,
      ...(Object.keys({ ...(image.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) }).length
        ? { ExposedPorts: { ...(image.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) } }
        : {}),
      Tty: body.Tty ?? false,
      OpenStdin: body.OpenStdin ?? false,
      StdinOnce: body.StdinOnce ?? false,
      Env: merged.Env ?? [],
      Cmd: merged.Cmd ?? null,
      Image: body.Image,
      Volumes: { ...(image.Volumes ?? {}), ...(body.Volumes ?? {}) },
      WorkingDir: merged.WorkingDir ?? '',
      Entrypoint: merged.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(image.Labels ?? {}), ...(body.Labels ?? {}) },
      ...(body.StopSignal || image.StopSignal
        ? { StopSignal: body.StopSignal || image.StopSignal }
        : {}),
    };
  }

  /** Refuses namespace modes naming containers that are absent or not running. */
  private async checkNamespaceModes(hc: SpecHostConfig): Promise<void> {
    for (const [what, mode] of [
      ['network', hc.NetworkMode],
      ['ipc', hc.IpcMode],
      ['pid', hc.PidMode],
    ] as const) {
      if (!mode) continue;
      if (mode.startsWith('container:')) {
        const other = this.store.lookup(mode.slice('container:'.length));
        void other;
        continue;
      }
      const ok =
        what === 'network'
          ? true
          : what === 'ipc'
            ? ['', 'host', 'private', 'shareable', 'none'].includes(mode)
            : ['', 'host'].includes(mode);
      if (!ok) throw new InvalidParameterError(`invalid ${what.toUpperCase()} mode: ${mode}`);
    }
    await Promise.resolve();
  }

  private sandboxRequest(rec: ContainerRecord): SandboxRequest {
    const hc = rec.HostConfig as SpecHostConfig & Record<string, unknown>;
    const str = (v: unknown): string[] | undefined =>
      Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
    const cfg = rec.Config as Record<string, unknown>;
    const endpoints = (
      rec.NetworkingConfig as { EndpointsConfig?: SandboxRequest['endpointsConfig'] } | null
    )?.EndpointsConfig;
    const dns = str(hc.Dns);
    const dnsSearch = str(hc.DnsSearch);
    const dnsOptions = str(hc.DnsOptions);
    const extraHosts = str(hc.ExtraHosts);
    return {
      containerId: rec.ID,
      name: rec.Name.replace(/^\//, ''),
      hostname: rec.Config.Hostname || rec.ID.slice(0, 12),
      ...(rec.Config.Domainname ? { domainname: rec.Config.Domainname } : {}),
      networkMode: hc.NetworkMode ?? 'default',
      ...(endpoints ? { endpointsConfig: endpoints } : {}),
      exposedPorts: Object.keys((cfg.ExposedPorts as Record<string, unknown> | undefined) ?? {}),
      portBindings: (hc.PortBindings as SandboxRequest['portBindings'] | undefined) ?? {},
      publishAllPorts: hc.PublishAllPorts === true,
      ...(dns ? { dns } : {}),
      ...(dnsSearch ? { dnsSearch } : {}),
      ...(dnsOptions ? { dnsOptions } : {}),
      ...(extraHosts ? { extraHosts } : {}),
    };
  }

  private async stoppedNetworkSettings(
    id: string,
    body: CreateRequest,
    hostConfig: SpecHostConfig,
    name: string,
    config: ContainerRecord['Config'],
  ): Promise<Record<string, unknown>> {
    const base = emptyNetworkSettings(hostConfig.NetworkMode ?? 'default');
    if (!this.networks) return base;
    const rec = {
      ID: id,
      Name: name,
      Config: config,
      HostConfig: hostConfig,
      NetworkingConfig: body.NetworkingConfig ?? null,
    } as unknown as ContainerRecord;
    try {
      const s = await this.networks.settingsFor(this.sandboxRequest(rec));
      return Object.keys(s).length > 0 ? s : base;
    } catch {
      return base;
    }
  }

  // ---- start -----------------------------------------------------------------------------

  /** false when it was already running (304). A failed start removes an AutoRemove container. */
  async start(idOrName: string): Promise<boolean> {
    const rec = this.store.lookup(idOrName);
    try {
      return await this.startManually(rec);
    } catch (err) {
      if (rec.HostConfig.AutoRemove && !rec.State.Running) {
        await this.remove(rec.ID, { force: true, volumes: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  private startManually(rec: ContainerRecord): Promise<boolean> {
    return this.locked(rec.ID, async () => {
      const cur = this.store.lookup(rec.ID);
      if (cur.State.Paused) {
        throw new ConflictError('cannot start a paused container, try unpause instead');
      }
      if (cur.State.Running && !cur.State.Restarting) return false;
      if (cur.State.Status === 'removing' || this.live.get(cur.ID)?.removing) {
        throw new ConflictError(`container is marked for removal and cannot be started`);
      }
      const live = this.liveOf(cur);
      if (live.restartTimer) clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
      live.restart = new RestartManager(cur.HostConfig.RestartPolicy ?? {});
      cur.RestartCount = 0;
      cur.HasBeenManuallyStopped = false;
      await this.startLocked(cur);
      return true;
    });
  }

  /** Starts a run: rootfs, sandbox, mounts, spec, shim; returns once the process runs. */
  private async startLocked(rec: ContainerRecord): Promise<void> {
    const live = this.liveOf(rec);
    const dir = this.dir(rec.ID);
    const paths = rootfsPaths(dir);
    const shim = shimPaths(dir);
    const hc = rec.HostConfig as SpecHostConfig & Record<string, unknown>;
    const logOpts = parseLogConfig(rec.HostConfig.LogConfig);
    let sandboxCreated = false;
    const undo = async () => {
      unmountRootfs(paths);
      containerCgroup(rec.ID, this.cgroup).release();
      if (sandboxCreated) await this.networks?.releaseSandbox(rec.ID).catch(() => undefined);
    };
    try {
      if (existsSync(join(this.runtimeRoot, rec.ID))) {
        await this.runtime.delete(rec.ID, { force: true });
      }
      const imageConfig = (await readImageConfig(this.engine.content, rec.Image)).config ?? {};
      await mountRootfs(paths, await this.lowerDirs(rec), this.engine.config.dataRoot, {
        volatile: rec.HostConfig.AutoRemove === true,
      });

      const namespaces: Partial<Record<'network' | 'pid' | 'ipc', NamespaceSetting>> = {};
      const mounts: SpecMount[] = [];
      let netFiles: { hosts: string; resolv: string; hostname: string } | undefined;
      const netMode = hc.NetworkMode ?? 'default';
      if (netMode.startsWith('container:')) {
        const other = this.runningPeer(netMode, 'network');
        namespaces.network = { path: `/proc/${other.State.Pid}/ns/net` };
        // moby: a container on another's network takes that one's host name too.
        rec.Config.Hostname = other.Config.Hostname ?? '';
        rec.Config.Domainname = other.Config.Domainname ?? '';
        netFiles = {
          hosts: other.HostsPath,
          resolv: other.ResolvConfPath,
          hostname: other.HostnamePath,
        };
        rec.NetworkSettings = emptyNetworkSettings(netMode);
      } else {
        const sandbox = await this.sandbox(rec);
        sandboxCreated = sandbox.created;
        namespaces.network = sandbox.netnsPath
          ? { path: sandbox.netnsPath }
          : netMode === 'host'
            ? 'host'
            : 'private';
        netFiles = {
          hosts: sandbox.hostsPath,
          resolv: sandbox.resolvConfPath,
          hostname: sandbox.hostnamePath,
        };
        rec.NetworkSettings = sandbox.networkSettings;
        rec.HostsPath = sandbox.hostsPath;
        rec.ResolvConfPath = sandbox.resolvConfPath;
        rec.HostnamePath = sandbox.hostnamePath;
      }
      for (const [what, mode] of [
        ['pid', hc.PidMode],
        ['ipc', hc.IpcMode],
      ] as const) {
        if (mode?.startsWith('container:')) {
          const other = this.runningPeer(mode, what);
          namespaces[what] = { path: `/proc/${other.State.Pid}/ns/${what}` };
        }
      }
      for (const [file, dest] of [
        [netFiles.hostname, '/etc/hostname'],
        [netFiles.hosts, '/etc/hosts'],
        [netFiles.resolv, '/etc/resolv.conf'],
      ] as const) {
        if (existsSync(file)) mounts.push({ type: 'bind', source: file, destination: dest });
      }

      const prepared = await this.prepareVolumes(rec, imageConfig, paths.rootfs);
      const cgroup = containerCgroup(rec.ID, this.cgroup);
      const userDests = new Set(prepared.specMounts.map((m) => m.destination));
      const specMounts = [
        ...mounts.filter((m) => !userDests.has(m.destination)),
        ...prepared.specMounts,
      ];
      rec.Mounts = prepared.mountPoints as unknown as Array<Record<string, unknown>>;

      const spec = await buildSpec({
        id: rec.ID,
        rootfs: paths.rootfs,
        config: {
          Hostname: rec.Config.Hostname ?? '',
          Domainname: String(rec.Config.Domainname ?? ''),
          User: rec.Config.User ?? '',
          Env: rec.Config.Env ?? [],
          Cmd: [rec.Path, ...rec.Args],
          Entrypoint: [''],
          WorkingDir: rec.Config.WorkingDir ?? '',
          Tty: rec.Config.Tty ?? false,
        },
        hostConfig: hc,
        mounts: specMounts,
        namespaces,
        cgroupsPath: cgroup.specPath,
        cgroup: this.cgroup,
        ...(hc.Init ? { initPath: findInitBinary(this.engine.config.initPath) } : {}),
      });
      await this.ensureWorkingDir(paths.rootfs, spec.process.cwd, spec.process.user);
      await writeFile(join(dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });

      const handle = startShim({
        id: rec.ID,
        paths: shim,
        runc: this.runcBinary,
        stateDir: this.runtimeRoot,
        keep: cgroup.needsKeep((hc.Memory ?? 0) > 0 || (hc.MemorySwap ?? 0) > 0) && this.runKeep,
        tty: rec.Config.Tty ?? false,
        openStdin: rec.Config.OpenStdin ?? false,
        stdinOnce: rec.Config.StdinOnce ?? false,
        consoleSize: consoleSize(hc.ConsoleSize),
      });
      const pid = await this.waitStarted(handle);
      if (pid === undefined) {
        // Nothing reads the output of a run that never started: drop our ends.
        for (const s of [handle.stdout, handle.stderr, handle.stdin]) s?.destroy();
        await handle.ended;
        await this.runtime.delete(rec.ID, { force: true }).catch(() => undefined);
        await undo();
        const detail = (await lastRuncError(shim)) ?? 'the container process failed to start';
        const failure = startFailure(this.runtime.name, rec.Path, detail);
        rec.State.ExitCode = failure.exitCode;
        rec.State.Error = detail;
        await this.store.save(rec);
        throw failure.error;
      }
      setRunning(rec.State, pid);
      rec.HasBeenStartedBefore = true;
      rec.Shim = {
        pid: handle.pid,
        startTime: handle.startTime,
        tty: rec.Config.Tty ?? false,
        stdin: handle.stdin !== undefined,
        rootfs: paths.rootfs,
        sandbox: sandboxCreated,
      };
      await this.store.save(rec);
      this.emit(rec, 'start');
      live.shim = handle;
      const log = new JsonFileLog(rec.LogPath, logOpts);
      live.exited = this.monitor(rec, handle, log);
    } catch (err) {
      await undo();
      throw err;
    }
  }

  private runningPeer(mode: string, what: string): ContainerRecord {
    const other = this.store.lookup(mode.slice('container:'.length));
    if (!other.State.Running || other.State.Restarting || other.State.Pid <= 0) {
      throw new ConflictError(`cannot join ${what} of a non running container: ${other.ID}`);
    }
    return other;
  }

  /** The container's network sandbox from NetworkService, or a local one while it is absent. */
  private async sandbox(rec: ContainerRecord): Promise<Sandbox & { created: boolean }> {
    if (this.networks) {
      try {
        return { ...(await this.networks.createSandbox(this.sandboxRequest(rec))), created: true };
      } catch (err) {
        if (!(err instanceof NotImplementedError)) throw err;
      }
    }
    // Until NetworkService implements sandboxes: host shares the host's network, anything
    // else gets an empty namespace (loopback only).
    const mode = rec.HostConfig.NetworkMode ?? 'default';
    const host = mode === 'host';
    const hostname = rec.Config.Hostname || rec.ID.slice(0, 12);
    const readHost = (p: string, fallback: string) => {
      try {
        return readFileSync(p, 'utf8');
      } catch {
        return fallback;
      }
    };
    const hosts = host
      ? readHost('/etc/hosts', '127.0.0.1\tlocalhost\n')
      : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`;
    await writeFile(rec.HostsPath, hosts);
    await writeFile(rec.HostnamePath, `${hostname}\n`);
    await writeFile(rec.ResolvConfPath, readHost('/etc/resolv.conf', ''));
    return {
      hostsPath: rec.HostsPath,
      resolvConfPath: rec.ResolvConfPath,
      hostnamePath: rec.HostnamePath,
      networkSettings: emptyNetworkSettings(mode),
      created: false,
    };
  }

  private async prepareVolumes(
    rec: ContainerRecord,
    image: ImageContainerConfig,
    rootfs: string,
  ): Promise<{ specMounts: SpecMount[]; mountPoints: unknown[] }> {
    const hc = rec.HostConfig as Record<string, unknown>;
    const binds = (hc.Binds as string[] | null | undefined) ?? null;
    const mounts = (hc.Mounts as DockerMount[] | null | undefined) ?? null;
    const volumesFrom = (hc.VolumesFrom as string[] | null | undefined) ?? [];
    const imageVolumes = Object.keys({
      ...(image.Volumes ?? {}),
      ...((rec.Config as Record<string, unknown>).Volumes ?? {}),
    });
    const requested =
      (binds?.length ?? 0) > 0 || (mounts?.length ?? 0) > 0 || volumesFrom.length > 0;
    if (!this.volumes) {
      if (requested) throw new NotImplementedError('volumes are not available');
      return { specMounts: [], mountPoints: [] };
    }
    const fromPoints = volumesFrom.flatMap((ref) => {
      const [name = '', mode = ''] = ref.split(':');
      const other = this.store.lookup(name);
      return (other.Mounts as Array<{ RW?: boolean; Destination?: string }>).map((m) => ({
        ...m,
        RW: mode === 'ro' ? false : mode === 'rw' ? true : (m.RW ?? true),
      }));
    });
    try {
      return await this.volumes.prepareMounts(
        {
          containerId: rec.ID,
          binds,
          mounts,
          tmpfs: (hc.Tmpfs as Record<string, string> | null | undefined) ?? null,
          imageVolumes,
          volumesFrom: fromPoints as never,
        },
        rootfs,
      );
    } catch (err) {
      if (err instanceof NotImplementedError && !requested)
        return { specMounts: [], mountPoints: [] };
      throw err;
    }
  }

  /** moby creates a missing WorkingDir, owned by the container's user. */
  private async ensureWorkingDir(
    rootfs: string,
    cwd: string,
    user: { uid: number; gid: number },
  ): Promise<void> {
    if (cwd === '/') return;
    const resolved = await resolveInRoot(rootfs, cwd);
    if (!resolved.missing) return;
    await mkdir(resolved.onHost, { recursive: true, mode: 0o755 });
    await chown(resolved.onHost, user.uid, user.gid).catch(() => undefined);
  }

  /** The container's pid once the runtime started it, or undefined when the shim ended first. */
  private async waitStarted(handle: StartedShim): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SystemError('timed out waiting for the container to start')),
        START_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([handle.started, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- a run's end -----------------------------------------------------------------------

  /** Follows one run to its end, then records the exit and applies the restart policy. */
  private async monitor(rec: ContainerRecord, handle: ShimHandle, log: JsonFileLog): Promise<void> {
    const live = this.liveOf(rec);
    await live.io.connect(log, handle, handle.ended);
    live.shim = undefined;
    const code = await readExitFile(shimPaths(this.dir(rec.ID)));
    await this.finishRun(
      rec,
      code === undefined
        ? { exitCode: 255, error: 'container shim exited without a status' }
        : { exitCode: code },
    );
  }

  /** Records a run's end: state, events, released mounts and sandbox, runtime state removed. */
  async finishRun(
    rec: ContainerRecord,
    exit: { exitCode: number; error?: string },
    at?: number,
    opts: { restart: boolean } = { restart: true },
  ): Promise<void> {
    const live = this.liveOf(rec);
    const cgroup = containerCgroup(rec.ID, this.cgroup);
    const oomKilled = cgroup.oomKills() > 0;
    // Only a run kept by the runtime (`run --keep`, or a runtime that died) leaves state.
    if (existsSync(join(this.runtimeRoot, rec.ID))) {
      await this.runtime.delete(rec.ID, { force: true }).catch((err: unknown) => {
        this.log.warn('runtime delete failed', { id: rec.ID, err });
      });
    }
    cgroup.release();
    unmountRootfs(rootfsPaths(this.dir(rec.ID)));
    if (rec.Shim?.sandbox !== false || this.networks) {
      await this.networks?.releaseSandbox(rec.ID).catch((err: unknown) => {
        this.log.warn('releasing the network sandbox failed', { id: rec.ID, err });
      });
    }
    const ranMs = Date.now() - Date.parse(rec.State.StartedAt);
    setStopped(rec.State, { ...exit, oomKilled }, at);
    rec.Shim = null;
    if (this.networks) {
      try {
        const s = await this.networks.settingsFor(this.sandboxRequest(rec));
        if (Object.keys(s).length > 0) rec.NetworkSettings = s;
      } catch {
        // keep the last settings
      }
    }
    // An auto-removed container is deleted right below: its final state need not hit the disk.
    const autoRemoveNext =
      rec.HostConfig.AutoRemove === true &&
      !this.shuttingDown &&
      !live.removing &&
      !live.restarting &&
      opts.restart;
    if (!autoRemoveNext) await this.store.save(rec);
    if (oomKilled) this.emit(rec, 'oom');
    this.emit(rec, 'die', { exitCode: String(exit.exitCode) });
    for (const w of [...live.exitWaiters]) w(exit.exitCode);
    live.exitWaiters.clear();

    if (this.shuttingDown || live.removing || live.restarting || !opts.restart) return;
    const delay = live.restart.shouldRestart(exit.exitCode, rec.HasBeenManuallyStopped, ranMs);
    if (delay !== undefined) {
      setRestarting(rec.State);
      await this.store.save(rec);
      live.restartTimer = setTimeout(() => {
        live.restartTimer = undefined;
        void this.locked(rec.ID, async () => {
          const cur = this.store.get(rec.ID);
          if (!cur?.State.Restarting || this.shuttingDown) return;
          cur.RestartCount++;
          try {
            await this.startLocked(cur);
            this.emit(cur, 'restart');
          } catch (err) {
            this.log.warn('restart failed', { id: rec.ID, err });
            setStopped(cur.State, { exitCode: cur.State.ExitCode, error: (err as Error).message });
            await this.store.save(cur);
          }
        });
      }, delay);
      return;
    }
    if (rec.HostConfig.AutoRemove) {
      // Not awaited: a `docker stop` holds the container's lock while it waits for this run's
      // end, and remove() takes that lock after it (moby removes asynchronously too).
      void this.remove(rec.ID, { force: true, volumes: true }).catch(async (err: unknown) => {
        this.log.warn('auto-remove failed', { id: rec.ID, err });
        if (this.store.get(rec.ID)) await this.store.save(rec).catch(() => undefined);
      });
    }
  }

  // ---- stop, kill, restart, pause ----------------------------------------------------------

  /** Waits (bounded) for the current run to be handled; true when it ended in time. */
  private async waitExit(live: Live, ms: number): Promise<boolean> {
    if (!live.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), ms);
    });
    const done = await Promise.race([live.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  private async signal(rec: ContainerRecord, sig: number): Promise<void> {
    this.emit(rec, 'kill', { signal: String(sig) });
    try {
      await this.runtime.kill(rec.ID, sig);
    } catch (err) {
      // Already exited: the monitor handles it.
      this.log.debug('kill failed', { id: rec.ID, sig, err });
    }
  }

  /** false when it was not running (304). */
  stop(
    idOrName: string,
    opts: { timeout?: number | undefined; signal?: string | undefined } = {},
  ): Promise<boolean> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, () => this.stopLocked(rec.ID, opts, false));
  }

  private async stopLocked(
    id: string,
    opts: { timeout?: number | undefined; signal?: string | undefined },
    shutdown: boolean,
  ): Promise<boolean> {
    const rec = this.store.lookup(id);
    const live = this.liveOf(rec);
    if (!shutdown) {
      rec.HasBeenManuallyStopped = true;
      live.restart.cancel();
    }
    if (rec.State.Restarting) {
      if (live.restartTimer) clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
      setStopped(rec.State, { exitCode: rec.State.ExitCode }, Date.parse(rec.State.FinishedAt));
      await this.store.save(rec);
      this.emit(rec, 'stop');
      return true;
    }
    if (!rec.State.Running) {
      await this.store.save(rec);
      return false;
    }
    const sig = opts.signal
      ? parseSignal(opts.signal)
      : parseSignal(rec.Config.StopSignal || 'SIGTERM');
    let timeout = opts.timeout ?? rec.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT_S;
    if (shutdown) timeout = Math.min(timeout < 0 ? SHUTDOWN_STOP_S : timeout, SHUTDOWN_STOP_S);
    await this.signal(rec, sig);
    if (rec.State.Paused) await this.runtime.resume(rec.ID).catch(() => undefined);
    const inTime =
      timeout < 0
        ? await this.waitExit(live, 2 ** 31 - 1)
        : await this.waitExit(live, timeout * 1000);
    if (!inTime) {
      await this.signal(rec, SIGKILL);
      if (!(await this.waitExit(live, 30_000))) {
        throw new SystemError(`container ${rec.ID} did not exit after SIGKILL`);
      }
    }
    this.emit(rec, 'stop');
    return true;
  }

  kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const sig = parseSignal(signal);
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      const cur = this.store.lookup(rec.ID);
      if (!cur.State.Running) {
        throw new ConflictError(
          `Cannot kill container: ${cur.ID}: Container ${cur.ID} is not running`,
        );
      }
      const live = this.liveOf(cur);
      cur.HasBeenManuallyStopped = true;
      const stopSig = parseSignal(cur.Config.StopSignal || 'SIGTERM');
      if (sig === SIGKILL || sig === stopSig) live.restart.cancel();
      if (cur.State.Restarting) {
        if (live.restartTimer) clearTimeout(live.restartTimer);
        live.restartTimer = undefined;
        setStopped(cur.State, { exitCode: cur.State.ExitCode }, Date.parse(cur.State.FinishedAt));
        await this.store.save(cur);
        return;
      }
      await this.store.save(cur);
      await this.signal(cur, sig);
      if (cur.State.Paused && (sig === SIGKILL || sig === stopSig)) {
        await this.runtime.resume(cur.ID).catch(() => undefined);
      }
      if (sig === SIGKILL) await this.waitExit(live, 30_000);
    });
  }

  restart(
    idOrName: string,
    opts: { timeout?: number | undefined; signal?: string | undefined } = {},
  ): Promise<void> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      const stopping = this.liveOf(rec);
      stopping.restarting = true;
      try {
        await this.stopLocked(rec.ID, opts, false);
      } finally {
        stopping.restarting = false;
      }
      const cur = this.store.lookup(rec.ID);
      const live = this.liveOf(cur);
      live.restart = new RestartManager(cur.HostConfig.RestartPolicy ?? {});
      cur.HasBeenManuallyStopped = false;
      cur.RestartCount = 0;
      await this.startLocked(cur);
      this.emit(cur, 'restart');
    });
  }

  pause(idOrName: string): Promise<void> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      const cur = this.store.lookup(rec.ID);
      if (!cur.State.Running || cur.State.Restarting) {
        throw new ConflictError(`Container ${cur.ID} is not running`);
      }
      if (cur.State.Paused) throw new ConflictError(`Container ${cur.ID} is already paused`);
      await this.runtime.pause(cur.ID);
      setPaused(cur.State, true);
      await this.store.save(cur);
      this.emit(cur, 'pause');
    });
  }

  unpause(idOrName: string): Promise<void> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      const cur = this.store.lookup(rec.ID);
      if (!cur.State.Paused) throw new ConflictError(`Container ${cur.ID} is not paused`);
      await this.runtime.resume(cur.ID);
      setPaused(cur.State, false);
      await this.store.save(cur);
      this.emit(cur, 'unpause');
    });
  }

  // ---- wait, rename, remove, prune -------------------------------------------------------

  /** POST /containers/{id}/wait; `ready` is called once the waiter is registered. */
  async wait(
    idOrName: string,
    condition: string,
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    if (!['', 'not-running', 'next-exit', 'removed'].includes(condition)) {
      throw new InvalidParameterError(`invalid condition: "${condition}"`);
    }
    const rec = this.store.lookup(idOrName);
    const live = this.liveOf(rec);
    const result = (code: number) => ({
      StatusCode: code,
      Error: rec.State.Error ? { Message: rec.State.Error } : null,
    });
    if ((condition === '' || condition === 'not-running') && !rec.State.Running) {
      return result(rec.State.ExitCode);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        live.exitWaiters.delete(onExit);
        live.removeWaiters.delete(onRemove);
        reject(new Error('client went away'));
      };
      const onExit = (code: number) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(result(code));
      };
      const onRemove = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(result(rec.State.ExitCode));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (condition === 'removed') live.removeWaiters.add(onRemove);
      else live.exitWaiters.add(onExit);
    });
  }

  rename(idOrName: string, newName: string): Promise<void> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      if (!newName) throw new InvalidParameterError('Neither old nor new names may be empty');
      const name = normalizeName(newName);
      const old = rec.Name;
      if (name === old) {
        throw new InvalidParameterError(
          'Renaming a container with the same name as its current name',
        );
      }
      this.store.reserveName(name, rec.ID);
      rec.Name = name;
      try {
        await this.store.save(rec);
      } catch (err) {
        rec.Name = old;
        this.store.releaseName(name, rec.ID);
        throw err;
      }
      this.store.releaseName(old, rec.ID);
      this.emit(rec, 'rename', { oldName: old });
    });
  }

  remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const rec = this.store.lookup(idOrName);
    return this.locked(rec.ID, async () => {
      const cur = this.store.get(rec.ID);
      if (!cur) return;
      const live = this.liveOf(cur);
      if (live.removing) return;
      if (cur.State.Running && !opts.force) {
        const what = cur.State.Paused ? 'paused' : cur.State.Restarting ? 'restarting' : 'running';
        const advice = cur.State.Paused
          ? 'Unpause and then stop the container before attempting removal or force remove'
          : 'Stop the container before attempting removal or force remove';
        throw new ConflictError(`You cannot remove a ${what} container ${cur.ID}. ${advice}`);
      }
      live.removing = true;
      live.restart.cancel();
      if (live.restartTimer) clearTimeout(live.restartTimer);
      live.restartTimer = undefined;
      if (cur.State.Running && !cur.State.Restarting) {
        cur.HasBeenManuallyStopped = true;
        await this.signal(cur, SIGKILL);
        if (cur.State.Paused) await this.runtime.resume(cur.ID).catch(() => undefined);
        if (!(await this.waitExit(live, 30_000))) {
          live.removing = false;
          throw new SystemError(`Could not kill running container ${cur.ID}, cannot remove`);
        }
      }
      cur.State.Status = 'removing';
      if (existsSync(join(this.runtimeRoot, cur.ID))) {
        await this.runtime.delete(cur.ID, { force: true }).catch(() => undefined);
      }
      containerCgroup(cur.ID, this.cgroup).release();
      unmountRootfs(rootfsPaths(this.dir(cur.ID)));
      await this.volumes
        ?.releaseMounts(cur.ID, { removeAnonymous: opts.volumes })
        .catch((err: unknown) => {
          this.log.warn('releasing volumes failed', { id: cur.ID, err });
        });
      await this.networks?.forgetContainer(cur.ID).catch(() => undefined);
      await this.store.remove(cur.ID);
      this.emit(cur, 'destroy');
      for (const w of [...live.removeWaiters]) w();
      this.live.delete(cur.ID);
    });
  }

  async prune(
    until?: bigint,
    labels: string[] = [],
  ): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    for (const rec of this.store.all()) {
      if (rec.State.Running) continue;
      if (until !== undefined && BigInt(Date.parse(rec.Created)) * 1_000_000n > until) continue;
      const lbl = rec.Config.Labels ?? {};
      const labelOk = labels.every((f) => {
        const neg = f.startsWith('!');
        const body = neg ? f.slice(1) : f;
        const eq = body.indexOf('=');
        const hit = eq < 0 ? body in lbl : lbl[body.slice(0, eq)] === body.slice(eq + 1);
        return neg ? !hit : hit;
      });
      if (!labelOk) continue;
      const size = await diskUsage(rootfsPaths(this.dir(rec.ID)).upper);
      try {
        await this.remove(rec.ID, { force: false, volumes: false });
        deleted.push(rec.ID);
        space += size;
      } catch (err) {
        this.log.warn('prune: removal failed', { id: rec.ID, err });
      }
    }
    this.engine.events.emit('container', 'prune', '', { reclaimed: String(space) });
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  resize(idOrName: string, height: number, width: number): void {
    const rec = this.store.lookup(idOrName);
    if (!rec.State.Running || rec.State.Restarting) {
      throw new ConflictError(`Container ${rec.ID} is not running`);
    }
    if (!rec.Config.Tty) return;
    try {
      resizeTty(rec.State.Pid, height, width);
    } catch (err) {
      throw new SystemError(`cannot resize the container's terminal: ${(err as Error).message}`);
    }
  }

  // ---- daemon start and shutdown ---------------------------------------------------------

  /** Records the attachment of a shim found alive after a berthd restart. */
  adopt(rec: ContainerRecord, handle: ShimHandle): void {
    const live = this.liveOf(rec);
    live.shim = handle;
    const log = new JsonFileLog(rec.LogPath, parseLogConfig(rec.HostConfig.LogConfig));
    live.exited = this.monitor(rec, handle, log);
  }

  /** Starts a container the restart policy wants running at daemon start. */
  async autoStart(rec: ContainerRecord): Promise<void> {
    await this.locked(rec.ID, async () => {
      const cur = this.store.lookup(rec.ID);
      if (cur.State.Running && !cur.State.Restarting) return;
      await this.startLocked(cur);
    });
  }

  /** Stops running containers (bounded), as dockerd without live-restore does at shutdown. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const l of this.live.values()) if (l.restartTimer) clearTimeout(l.restartTimer);
    await Promise.all(
      this.store
        .all()
        .filter((r) => r.State.Running && !r.State.Restarting)
        .map((r) =>
          this.locked(r.ID, () => this.stopLocked(r.ID, {}, true)).catch((err: unknown) => {
            this.log.warn('stop at shutdown failed', { id: r.ID, err });
          }),
        ),
    );
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Reads a container's spec back (the bundle's config.json), e.g. for exec. */
  async spec(id: string): Promise<unknown> {
    return JSON.parse(await readFile(join(this.dir(id), 'config.json'), 'utf8')) as unknown;
  }
}

function consoleSize(size: number[] | null | undefined): [number, number] | undefined {
  const [h = 0, w = 0] = size ?? [];
  return h > 0 && w > 0 ? [h, w] : undefined;
}

/** Whether a container has any mount to prepare (a bind, volume, tmpfs or image VOLUME). */
function asksForMounts(rec: ContainerRecord, image: ImageContainerConfig): boolean {
  const hc = rec.HostConfig as Record<string, unknown>;
  const some = (v: unknown) =>
    Array.isArray(v)
      ? v.length > 0
      : typeof v === 'object' && v !== null && Object.keys(v).length > 0;
  return (
    some(hc.Binds) ||
    some(hc.Mounts) ||
    some(hc.Tmpfs) ||
    some(hc.VolumesFrom) ||
    some(image.Volumes) ||
    some((rec.Config as Record<string, unknown>).Volumes)
  );
}

/** "busybox" → "busybox:latest", as moby's "No such image" names a reference. */
function displayRef(ref: string): string {
  try {
    return familiar(normalizeRef(ref));
  } catch {
    return ref;
  }
}

export function emptyNetworkSettings(mode: string): Record<string, unknown> {
  const net = !mode || mode === 'default' ? 'bridge' : mode;
  return {
    Bridge: '',
    SandboxID: '',
    SandboxKey: '',
    Ports: {},
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: '',
    Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    MacAddress: '',
    Networks: net.startsWith('container:')
      ? {}
      : {
          [net]: {
            IPAMConfig: null,
            Links: null,
            Aliases: null,
            NetworkID: '',
            EndpointID: '',
            Gateway: '',
            IPAddress: '',
            IPPrefixLen: 0,
            IPv6Gateway: '',
            GlobalIPv6Address: '',
            GlobalIPv6PrefixLen: 0,
            MacAddress: '',
            DriverOpts: null,
          },
        },
  };
}

/** moby's translateContainerdStartErr: 127 for a missing command, 126 when not executable. */
function startFailure(
  runtime: string,
  cmd: string,
  detail: string,
): { exitCode: number; error: Error } {
  const msg = `failed to create task for container: failed to create shim task: OCI runtime create failed: ${runtime} create failed: ${detail}: unknown`;
  const lower = detail.toLowerCase();
  if (
    lower.includes(cmd.toLowerCase()) &&
    (lower.includes('executable file not found') || lower.includes('no such file or directory'))
  ) {
    return { exitCode: 127, error: new InvalidParameterError(msg) };
  }
  if (lower.includes('permission denied')) {
    return { exitCode: 126, error: new InvalidParameterError(msg) };
  }
  return { exitCode: 128, error: new SystemError(msg) };
}
