/**
 * The Machine service: one named VM with its settings, keys and disk under
 * `<root>/machines/<name>/`, booted by a Driver, and — while `start()`'s process lives — the host
 * side of the engine: the SSH link to the guest agent, the host docker socket and the published
 * ports. The desktop app (tray: start/stop/status/progress) and `berth machine` both use it.
 *
 * Events (`machine.on('event', e => …)`), in order during a start:
 *   {type:'state', state:'starting'} → {type:'progress', progress:{stage, percent, message}}…
 *   → {type:'state', state:'running'}; then {type:'ports'} / {type:'port-error'} as containers
 *   publish ports; {type:'state', state:'stopped'} after stop() or when the VM goes away.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { EngineClient } from '@berth/engine-client';
import { PROTOCOL_VERSION, type GuestConfig, type PublishedPort } from '@berth/vm-image/protocol';
import { AgentEvents } from './bridge/agent-events.js';
import { AgentLink } from './bridge/agent-link.js';
import { EngineSocket } from './bridge/engine-socket.js';
import type { AgentAddress, Driver, DriverFactory } from './driver.js';
import { generateMachineKeys, readMachineKeys, writeMachineKeys } from './keys.js';
import { berthPaths, engineClientHost, type BerthPaths, type MachinePaths } from './paths.js';
import { PortForwarder } from './ports/forwarder.js';
import { progressFor, progressFromConsole, type Progress } from './progress.js';
import { defaultDrivers } from './registry.js';
import {
  applyMachineConfig,
  hostArch,
  MachineSettingsSchema,
  sharedFoldersFor,
  guestShares,
  type MachineConfig,
  type MachineInitOptions,
  type MachineSettings,
} from './settings.js';
import { livePid } from './util/process.js';
import { tailLines, type Tail } from './util/tail.js';
import { TimeoutError, waitUntil } from './util/wait.js';

export type MachineState = 'absent' | 'stopped' | 'starting' | 'running' | 'stopping' | 'error';

export type MachineEvent =
  | { type: 'state'; state: MachineState; message?: string }
  | { type: 'progress'; progress: Progress }
  /** Something worth showing that changes nothing (e.g. an accelerator fallback). */
  | { type: 'notice'; message: string }
  /** The ports forwarded on the host now. */
  | { type: 'ports'; ports: PublishedPort[] }
  /** A published port the host could not listen on. */
  | { type: 'port-error'; port: PublishedPort; message: string };

export interface MachineStatus {
  name: string;
  state: MachineState;
  /** Why the state is `error`, or what is odd. */
  message?: string;
  driver?: string;
  accelerator?: string;
  /** The hypervisor process. */
  pid?: number;
  agent?: AgentAddress;
  /** The host socket for the docker CLI (`unix://` + this is DOCKER_HOST). */
  dockerSocket: string;
  /** Whether `/_ping` answered through the host socket. */
  engineReachable: boolean;
  /** The process that keeps the host socket and ports (`berth machine start`'s background host). */
  hostPid?: number;
  settings?: MachineSettings;
}

/** configure() asked for a change that only a VM start applies, while the VM runs. */
export class RestartRequiredError extends Error {
  override readonly name = 'RestartRequiredError';
  constructor(
    machine: string,
    /** The settings that differ. */
    readonly changed: readonly string[],
  ) {
    super(
      `machine "${machine}" is running: ${changed.join(', ')} take effect at the next start; stop it first (apply & restart)`,
    );
  }
}

export interface MachineOptions {
  /** Default `default`. */
  name?: string;
  /** State root; default `~/.berth` (or $BERTH_HOME). */
  root?: string;
  /** Driver factories by name; default qemu (plus vz/hyperv where they run). */
  drivers?: Record<string, DriverFactory>;
  /** The host docker socket; default `<root>/run/docker.sock`. */
  dockerSocket?: string;
}

export interface StartOptions {
  /** Milliseconds for the whole start, boot to engine answering (default 5 min: TCG is slow). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface HostSide {
  link: AgentLink;
  socket: EngineSocket;
  events: AgentEvents;
  ports: PortForwarder;
}

const DEFAULTS = { cpus: 2, memoryMiB: 2048, diskGiB: 64 };
/** How often a machine whose agent link dropped checks whether its VM is still there. */
const VM_EXIT_POLL_MS = 500;

export class Machine extends EventEmitter<{ event: [MachineEvent] }> {
  readonly name: string;
  readonly paths: MachinePaths;
  readonly berth: BerthPaths;
  readonly dockerSocket: string;
  private readonly drivers: Record<string, DriverFactory>;
  private state: MachineState | undefined;
  private host: HostSide | undefined;

  constructor(opts: MachineOptions = {}) {
    super();
    this.name = opts.name ?? 'default';
    this.berth = berthPaths(opts.root);
    this.paths = this.berth.machine(this.name);
    this.dockerSocket = opts.dockerSocket ?? this.berth.dockerSocket;
    this.drivers = opts.drivers ?? defaultDrivers();
  }

  exists(): boolean {
    return existsSync(this.paths.settings);
  }

  settings(): MachineSettings {
    if (!this.exists())
      throw new Error(`machine "${this.name}" does not exist; run: berth machine init`);
    return MachineSettingsSchema.parse(JSON.parse(readFileSync(this.paths.settings, 'utf8')));
  }

  /** Creates the machine: settings, keys, and the driver's files (the data disk). */
  async init(opts: MachineInitOptions): Promise<MachineSettings> {
    if (this.exists()) throw new Error(`machine "${this.name}" already exists`);
    const settings = MachineSettingsSchema.parse({
      name: this.name,
      driver: opts.driver ?? 'qemu',
      arch: opts.arch ?? hostArch(),
      cpus: opts.cpus ?? DEFAULTS.cpus,
      memoryMiB: opts.memoryMiB ?? DEFAULTS.memoryMiB,
      diskGiB: opts.diskGiB ?? DEFAULTS.diskGiB,
      sharedFolders: sharedFoldersFor(opts.sharedFolders ?? []),
      image: opts.image,
      accelerators: opts.accelerators ?? [],
      insecureRegistries: opts.insecureRegistries ?? [],
      createdAt: new Date().toISOString(),
    });
    if (!this.drivers[settings.driver]) throw new Error(`unknown driver "${settings.driver}"`);
    mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    try {
      writeMachineKeys(this.paths, generateMachineKeys(this.name));
      writeFileSync(this.paths.settings, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
      const driver = this.driver(settings);
      await driver.validate();
      await driver.create();
    } catch (e) {
      rmSync(this.paths.dir, { recursive: true, force: true });
      throw e;
    }
    return settings;
  }

  /**
   * Changes the settings of an existing machine (validated; the disk only grows), applied at its
   * next start. While the VM runs, a change throws RestartRequiredError and nothing is written;
   * settings equal to the current ones are always accepted. Resolves with the settings now saved.
   */
  async configure(config: MachineConfig): Promise<MachineSettings> {
    const current = this.settings();
    const { next, changed } = applyMachineConfig(current, config);
    if (changed.length === 0) return current;
    if (this.host || this.state === 'starting' || (await this.driver(current).status()).running)
      throw new RestartRequiredError(this.name, changed);
    const tmp = `${this.paths.settings}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.paths.settings);
    return next;
  }

  /**
   * Boots the VM (or adopts one already running), then serves the host socket and published
   * ports from this process until stop() or until the VM goes away. Resolves once `/_ping`
   * answers through the host socket.
   */
  async start(opts: StartOptions = {}): Promise<void> {
    const settings = this.settings();
    if (this.host) throw new Error(`machine "${this.name}" is already running`);
    const driver = this.driver(settings);
    const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
    const left = () => Math.max(1000, deadline - Date.now());
    this.setState('starting');
    let consoleTail: Tail | undefined;
    let link: AgentLink | undefined;
    try {
      let percent = 0;
      const report = (p: Progress) => {
        // The bar never goes back (a fallback boot replays the early stages).
        if (p.percent < percent) return;
        percent = p.percent;
        this.emit('event', { type: 'progress', progress: p });
      };
      let failed: string | undefined;
      let ready = false;
      const adopt = (await driver.status()).running;
      if (!adopt) {
        report(progressFor('launch'));
        await driver.validate();
        mkdirSync(this.paths.runDir, { recursive: true, mode: 0o700 });
        if (existsSync(this.paths.serialLog))
          renameSync(this.paths.serialLog, `${this.paths.serialLog}.1`);
        consoleTail = tailLines(this.paths.serialLog, (line) => {
          const p = progressFromConsole(line);
          if (!p) return;
          if ('failed' in p) failed = p.failed;
          else {
            // The agent serves SSH before berthd starts: connecting now lets the handshake
            // overlap berthd's start-up rather than follow it.
            if (p.stage === 'agent') link ??= this.connectAgent(driver);
            if (p.stage === 'ready') ready = true;
            report(p);
          }
        });
        await driver.start({
          ...(opts.signal ? { signal: opts.signal } : {}),
          onNotice: (message) => this.emit('event', { type: 'notice', message }),
        });
        await waitUntil('the guest to report ready', () => ready, {
          timeoutMs: left(),
          intervalMs: 100,
          ...(opts.signal ? { signal: opts.signal } : {}),
          giveUp: () => failed ?? undefined,
        });
      }
      report(progressFor('bridge'));
      link ??= this.connectAgent(driver);
      this.host = await this.serveHost(driver, link, left());
      report(progressFor('running'));
      this.setState('running');
    } catch (e) {
      await this.teardownHost();
      await link?.close();
      if (!(e instanceof TimeoutError) || !(await driver.status()).running) {
        this.setState('error', e instanceof Error ? e.message : String(e));
      } else {
        this.setState('error', `${(e as Error).message}; see berth machine logs`);
      }
      throw e;
    } finally {
      consoleTail?.close();
    }
  }

  /** A link to the guest agent, connecting (and reconnecting) in the background. */
  private connectAgent(driver: Driver): AgentLink {
    const keys = readMachineKeys(this.paths);
    const link = new AgentLink({
      address: () => driver.guestAgent(),
      clientKey: keys.clientPrivate,
      hostKey: keys.hostPublic,
    });
    link.start();
    return link;
  }

  private async serveHost(driver: Driver, link: AgentLink, timeoutMs: number): Promise<HostSide> {
    const socket = new EngineSocket({ path: this.dockerSocket, link });
    const events = new AgentEvents(link);
    const ports = new PortForwarder(link, driver.portForwarder);
    const host: HostSide = { link, socket, events, ports };
    try {
      await link.client(timeoutMs);
      await socket.listen();
      ports.on('port-error', (port, message) =>
        this.emit('event', { type: 'port-error', port, message }),
      );
      const announce = () => this.emit('event', { type: 'ports', ports: ports.active() });
      ports.on('opened', announce);
      ports.on('closed', announce);
      events.on('event', (e) => {
        if (e.type === 'ports') void ports.apply(e.ports);
        else if (e.type === 'warning') this.emit('event', { type: 'notice', message: e.message });
      });
      events.on('problem', (message) => this.emit('event', { type: 'notice', message }));
      events.start();
      // The link drops before the VM is gone when the guest powers off by itself (the agent
      // stops first): watch the VM until it exits or the link comes back.
      let watching: NodeJS.Timeout | undefined;
      const vmGone = async () => {
        watching = undefined;
        if (this.host !== host || link.connected) return;
        if ((await driver.status()).running) {
          watching = setTimeout(() => void vmGone(), VM_EXIT_POLL_MS).unref();
          return;
        }
        // The VM went away under us (killed, crashed, powered off from inside).
        await this.teardownHost();
        this.setState('stopped', 'the virtual machine exited');
      };
      link.on('down', () => {
        if (!watching) void vmGone();
      });
      link.on('up', () => {
        clearTimeout(watching);
        watching = undefined;
      });
      const client = new EngineClient({ host: engineClientHost(this.dockerSocket) });
      await waitUntil(
        'the engine to answer through the host socket',
        async () =>
          await client.raw({ method: 'GET', path: '/_ping', timeoutMs: 5000 }).then(
            (res) => (res.resume(), true),
            () => false,
          ),
        { timeoutMs, intervalMs: 250 },
      );
      return host;
    } catch (e) {
      events.stop();
      await ports.close();
      await socket.close();
      await link.close();
      throw e;
    }
  }

  private async teardownHost(): Promise<void> {
    const host = this.host;
    this.host = undefined;
    if (!host) return;
    host.events.stop();
    await host.ports.close();
    await host.socket.close();
    await host.link.close();
  }

  /**
   * Stops the VM: the host side first, then the guest is asked to power off, forced after
   * `timeoutMs`. A background host process that serves this machine is stopped as well.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    const settings = this.settings();
    const driver = this.driver(settings);
    this.setState('stopping');
    const hostPid = livePid(this.paths.hostPid);
    if (hostPid !== undefined && hostPid !== process.pid) {
      // That process stops the VM itself on SIGTERM; wait for it, then make sure.
      try {
        process.kill(hostPid, 'SIGTERM');
        await waitUntil(
          'the host process to stop',
          () => livePid(this.paths.hostPid) === undefined,
          {
            timeoutMs: (opts.timeoutMs ?? 30_000) + 10_000,
          },
        );
      } catch {
        // Fall through: stop the VM from here.
      }
    }
    const link = this.host?.link;
    if (link?.connected) {
      // A clean shutdown from inside flushes the data disk; QMP powerdown is the fallback. The
      // command must finish before the link closes, or the agent hangs it up.
      await link
        .exec('poweroff', {}, 2000)
        .then(
          (ch) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, 5000);
              ch.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              ch.resume();
            }),
        )
        .catch(() => undefined);
    }
    await this.teardownHost();
    await driver.stop({ timeoutMs: opts.timeoutMs ?? 30_000 });
    this.setState('stopped');
  }

  async restart(opts: StartOptions & { stopTimeoutMs?: number } = {}): Promise<void> {
    await this.stop({ ...(opts.stopTimeoutMs ? { timeoutMs: opts.stopTimeoutMs } : {}) });
    await this.start(opts);
  }

  async status(): Promise<MachineStatus> {
    const base = { name: this.name, dockerSocket: this.dockerSocket, engineReachable: false };
    if (!this.exists()) return { ...base, state: 'absent' };
    const settings = this.settings();
    const driver = this.driver(settings);
    const s = await driver.status();
    const hostPid = this.host ? process.pid : livePid(this.paths.hostPid);
    const engineReachable =
      s.running &&
      (await new EngineClient({ host: engineClientHost(this.dockerSocket) })
        .raw({ method: 'GET', path: '/_ping', timeoutMs: 3000 })
        .then(
          (res) => (res.resume(), true),
          () => false,
        ));
    let state: MachineState;
    let message: string | undefined;
    if (this.state === 'starting' || this.state === 'stopping') state = this.state;
    else if (!s.running) state = this.state === 'error' ? 'error' : 'stopped';
    else if (engineReachable) state = 'running';
    else if (hostPid !== undefined) state = 'starting';
    else {
      state = 'error';
      message = 'the VM runs but nothing serves its host socket; run: berth machine start';
    }
    const agent = s.running ? await driver.guestAgent() : undefined;
    return {
      ...base,
      state,
      ...(message ? { message } : {}),
      driver: driver.name,
      ...(s.accelerator ? { accelerator: s.accelerator } : {}),
      ...(s.pid ? { pid: s.pid } : {}),
      ...(agent ? { agent } : {}),
      engineReachable,
      ...(hostPid ? { hostPid } : {}),
      settings,
    };
  }

  /** Stops the VM if it runs and removes everything init and start made. */
  async delete(): Promise<void> {
    if (!existsSync(this.paths.dir)) throw new Error(`machine "${this.name}" does not exist`);
    if (this.exists()) {
      await this.stop({ timeoutMs: 5000 }).catch(() => undefined);
      await this.driver(this.settings()).delete();
    }
    rmSync(this.paths.dir, { recursive: true, force: true });
    this.setState('absent');
  }

  /** The guest console of the current (or, with `previous`, the last) boot. */
  logs(opts: { previous?: boolean } = {}): string {
    const file = opts.previous ? `${this.paths.serialLog}.1` : this.paths.serialLog;
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  /** Follows the guest console line by line until close(). */
  followLogs(onLine: (line: string) => void, opts: { fromStart?: boolean } = {}): Tail {
    return tailLines(this.paths.serialLog, onLine, opts);
  }

  /** The guest config handed to the guest at boot (fw_cfg / config disk). */
  guestConfig(settings: MachineSettings = this.settings()): GuestConfig {
    const keys = readMachineKeys(this.paths);
    return {
      version: PROTOCOL_VERSION,
      hostKey: keys.hostPrivate,
      authorizedKeys: [keys.clientPublic],
      shares: guestShares(settings.sharedFolders),
      insecureRegistries: settings.insecureRegistries,
      hostname: `berth-${settings.name}`,
    };
  }

  /** The agent link while this process serves the machine (for `berth machine ssh`). */
  agentLink(): AgentLink | undefined {
    return this.host?.link;
  }

  driver(settings: MachineSettings = this.settings()): Driver {
    const factory = this.drivers[settings.driver];
    if (!factory) throw new Error(`unknown driver "${settings.driver}"`);
    return factory({
      settings,
      paths: this.paths,
      hostStateDir: this.berth.root,
      guestConfig: this.guestConfig(settings),
    });
  }

  private setState(state: MachineState, message?: string): void {
    this.state = state;
    this.emit('event', { type: 'state', state, ...(message ? { message } : {}) });
  }
}
