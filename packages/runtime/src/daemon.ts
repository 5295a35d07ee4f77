/**
 * berthd's assembly: builds the Engine on the data root (repairing every store first, so a
 * crash mid-pull leaves nothing half-written trusted), registers the API routes and listens
 * on the requested unix sockets (or loopback TCP). The CLI in cli/berthd.ts only parses flags
 * and handles signals; tests start the same daemon in-process.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { acceptUpgrades } from './api/hijack.js';
import { registerBuildRoutes } from './api/routes/build.js';
import { registerContainerFileRoutes } from './api/routes/container-files.js';
import { registerContainerRoutes } from './api/routes/containers.js';
import { registerExecRoutes } from './api/routes/exec.js';
import { registerImageRoutes } from './api/routes/images.js';
import { registerStatsRoutes } from './api/routes/stats.js';
import { registerSystemRoutes } from './api/routes/system.js';
import { registerNetworkRoutes } from './api/routes/networks.js';
import { registerVolumeRoutes } from './api/routes/volumes.js';
import { Router } from './api/router.js';
import { createApiServer } from './api/server.js';
import { BuildCache } from './build/cache.js';
import type { Engine, EngineConfig } from './engine.js';
import { MemoryEventBus } from './events/bus.js';
import { FsContentStore } from './images/content-store.js';
import { FsImageStore } from './images/image-store.js';
import { autoRestart, recoverContainers } from './containers/recovery.js';
import { ContainerService } from './containers/service.js';
import { createLogger, type LogLevel } from './logging/logger.js';
import { OverlaySnapshotter } from './storage/snapshots.js';
import { DataRootInUseError, lockDataRoot, type DataRootLock } from './os/data-root-lock.js';
import { createNetworkService } from './networks/service.js';
import { createVolumeService } from './volumes/service.js';

export interface DaemonConfig extends EngineConfig {
  /** Listen addresses: `unix:///path.sock` or `tcp://127.0.0.1:PORT`. */
  hosts: string[];
  /** Written with our pid at start, removed at close. */
  pidfile?: string;
  logLevel?: LogLevel;
  /** Mirror the log to stderr. */
  logToStderr?: boolean;
}

export interface Daemon {
  engine: Engine;
  /** The first listening server (one per host). */
  server: Server;
  servers: Server[];
  /** Where the daemon listens, as `unix:///…` / `tcp://127.0.0.1:PORT` (actual port). */
  addresses: string[];
  /** Stops accepting, ends streams, waits (bounded) for requests, removes socket and pidfile. */
  close(): Promise<void>;
}

/** A start-up failure with a message meant for the user, not a stack trace. */
export class DaemonStartError extends Error {
  override name = 'DaemonStartError';
}

/** Time in-flight requests get to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Parses a `-H` value; refuses anything but unix sockets and loopback TCP. */
export function parseHost(host: string): ListenAddress {
  if (host.startsWith('fd://')) {
    throw new DaemonStartError(
      `${host}: socket activation (fd://) is not supported; use -H unix:///path/to.sock`,
    );
  }
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (!path.startsWith('/')) throw new DaemonStartError(`${host}: socket path must be absolute`);
    return { kind: 'unix', path };
  }
  if (host.startsWith('tcp://')) {
    const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(host);
    if (!m) throw new DaemonStartError(`${host}: expected tcp://127.0.0.1:PORT`);
    const name = m[1] ?? '';
    if (name !== '127.0.0.1' && name !== 'localhost') {
      throw new DaemonStartError(
        `${host}: refusing to listen beyond loopback; the Engine API is unauthenticated ` +
          `and gives root on this machine (use tcp://127.0.0.1:PORT or a unix socket)`,
      );
    }
    return { kind: 'tcp', host: '127.0.0.1', port: Number(m[2]) };
  }
  throw new DaemonStartError(`${host}: unsupported address (use unix:///path.sock)`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes our pid to `path`, refusing when it names another live process: dockerd's pidfile
 * rule, also used to keep two daemons off one data root.
 */
function claimPidfile(path: string, inUse: (pid: number) => string): void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    // no file: the normal case
  }
  if (existing !== undefined && existing !== process.pid && existing > 0 && isAlive(existing)) {
    throw new DaemonStartError(inUse(existing));
  }
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    throw new DaemonStartError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

async function takeDataRoot(dataRoot: string): Promise<DataRootLock> {
  const pidFile = join(dataRoot, 'berthd.lock');
  try {
    return await lockDataRoot(dataRoot, pidFile);
  } catch (err) {
    if (err instanceof DataRootInUseError) throw new DaemonStartError(err.message);
    throw new DaemonStartError(`cannot lock ${pidFile}: ${(err as Error).message}`);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** True when something accepts connections on the unix socket `path`. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const finish = (inUse: boolean) => {
      sock.destroy();
      resolve(inUse);
    };
    sock.setTimeout(1_000, () => finish(true));
    sock.once('connect', () => finish(true));
    sock.once('error', () => finish(false));
  });
}

/** Makes `path` usable for a new socket: parent dir exists, a stale socket is removed. */
async function prepareSocketPath(path: string): Promise<void> {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new DaemonStartError(
      `cannot create the directory for socket unix://${path}: ${(err as Error).message}`,
    );
  }
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new DaemonStartError(`cannot listen on unix://${path}: it exists and is not a socket`);
  }
  if (await socketInUse(path)) {
    throw new DaemonStartError(`another berthd is listening on unix://${path}`);
  }
  removeQuietly(path);
}

function listenOn(server: Server, addr: ListenAddress): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where =
        addr.kind === 'unix' ? `unix://${addr.path}` : `tcp://${addr.host}:${addr.port}`;
      reject(new DaemonStartError(`cannot listen on ${where}: ${err.message}`));
    };
    server.once('error', onError);
    if (addr.kind === 'tcp') {
      server.listen(addr.port, addr.host, () => {
        server.off('error', onError);
        const bound = server.address();
        const port = bound && typeof bound === 'object' ? bound.port : addr.port;
        resolve(`tcp://${addr.host}:${port}`);
      });
      return;
    }
    // The socket must never exist with looser permissions, not even between bind and chmod.
    const previous = process.umask(0o117);
    try {
      server.listen(addr.path, () => {
        server.off('error', onError);
        try {
          chmodSync(addr.path, 0o660);
          resolve(`unix://${addr.path}`);
        } catch (err) {
          reject(new DaemonStartError(`cannot chmod ${addr.path}: ${(err as Error).message}`));
        }
      });
    } finally {
      process.umask(previous);
    }
  });
}

/** The engine's stable ID, created on first start (dockerd keeps one the same way). */
function engineId(dataRoot: string): string {
  const file = join(dataRoot, 'engine-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch {
    // first start
  }
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

function makeDirs(config: DaemonConfig): void {
  for (const [flag, dir, mode] of [
    ['--data-root', config.dataRoot, 0o711],
    ['--exec-root', config.execRoot, 0o700],
  ] as const) {
    try {
      mkdirSync(dir, { recursive: true, mode });
    } catch (err) {
      throw new DaemonStartError(`cannot create ${flag} ${dir}: ${(err as Error).message}`);
    }
  }
}

export async function startDaemon(config: DaemonConfig): Promise<Daemon> {
  const addresses = config.hosts.map(parseHost);
  if (addresses.length === 0) throw new DaemonStartError('no listen address (-H) given');
  makeDirs(config);
  const dataLock = await takeDataRoot(config.dataRoot);
  try {
    if (config.pidfile) {
      const pidfile = config.pidfile;
      claimPidfile(
        pidfile,
        (pid) => `pid file found, ensure berthd is not running or delete ${pidfile} (pid ${pid})`,
      );
    }
  } catch (err) {
    dataLock.release();
    throw err;
  }

  const logger = createLogger({
    file: join(config.dataRoot, 'berthd.log'),
    level: config.logLevel ?? (config.debug ? 'debug' : 'info'),
    stderr: config.logToStderr ?? false,
  });
  const servers: Server[] = [];
  const shutdown = new AbortController();
  const cleanup = () => {
    shutdown.abort();
    if (config.pidfile) removeQuietly(config.pidfile);
    dataLock.release();
    logger.close();
  };

  try {
    const events = new MemoryEventBus(undefined, (err) =>
      logger.error('event listener failed', { err }),
    );
    const content = new FsContentStore(join(config.dataRoot, 'content'));
    const snapshots = new OverlaySnapshotter(join(config.dataRoot, 'snapshots'));
    const images = new FsImageStore(join(config.dataRoot, 'images'), content);
    const volumes = await createVolumeService({ dataRoot: config.dataRoot, events, logger });
    const networks = createNetworkService({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      events,
      logger,
      ...(config.hostGatewayIp ? { hostGatewayIp: config.hostGatewayIp } : {}),
      ...(config.defaultBindIp ? { defaultBindIp: config.defaultBindIp } : {}),
    });
    for (const [name, store] of [
      ['content', content],
      ['snapshots', snapshots],
      ['images', images],
    ] as const) {
      const started = Date.now();
      await store.repair();
      logger.debug('store repaired', { store: name, ms: Date.now() - started });
    }
    const engine: Engine = {
      config: { ...config, id: config.id ?? engineId(config.dataRoot) },
      content,
      snapshots,
      images,
      volumes,
      events,
      logger,
      shutdown: shutdown.signal,
    };

    // Containers before network repair: it asks which containers still run.
    const containers = new ContainerService(engine, networks, volumes);
    await containers.store.load((id, err) =>
      logger.error('unreadable container record left in place', { id, err }),
    );
    networks.setContainerResolver({
      resolve: (ref) => {
        const rec = containers.store.find(ref);
        return Promise.resolve(
          rec && { id: rec.ID, name: rec.Name.replace(/^\//, ''), running: rec.State.Running },
        );
      },
    });
    const recovered = await recoverContainers(containers, config.dataRoot);
    logger.info('containers recovered', { ...recovered });
    {
      // With the containers known, references of containers that are gone are dropped too.
      const started = Date.now();
      await volumes.repair(new Set(containers.list().map((r) => r.ID)));
      logger.debug('store repaired', { store: 'volumes', ms: Date.now() - started });
    }
    {
      const started = Date.now();
      await networks.repair();
      logger.debug('store repaired', { store: 'networks', ms: Date.now() - started });
    }
    engine.containers = containers;
    engine.containersUsingImage = (id) => containers.containersUsingImage(id);

    const router = new Router();
    registerSystemRoutes(router, engine);
    const buildCache = new BuildCache(join(config.dataRoot, 'build-cache'));
    registerImageRoutes(router, engine, buildCache);
    registerVolumeRoutes(router, engine, volumes);
    registerNetworkRoutes(router, engine, networks);
    const execs = registerExecRoutes(router, engine, containers);
    registerContainerRoutes(router, engine, containers, execs);
    registerContainerFileRoutes(router, engine, containers);
    registerStatsRoutes(router, engine, containers);
    registerBuildRoutes(router, engine, containers, buildCache);

    const requestLog = logger.child({ component: 'api' });
    const bound: string[] = [];
    for (const addr of addresses) {
      if (addr.kind === 'unix') await prepareSocketPath(addr.path);
      const server = createApiServer({
        router,
        engineVersion: config.version,
        onRequest: (entry) => requestLog.info('request', entry),
      });
      acceptUpgrades(server);
      servers.push(server);
      bound.push(await listenOn(server, addr));
    }
    logger.info('berthd started', {
      version: config.version,
      pid: process.pid,
      hosts: bound,
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
    });
    // Restart policies act once the API is up, as dockerd's restore does.
    void autoRestart(containers, (id, err) =>
      logger.warn('restart at daemon start failed', { id, err }),
    ).then((ids) => {
      if (ids.length) logger.info('containers restarted by policy', { ids });
    });

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        logger.info('berthd shutting down');
        shutdown.abort();
        // Stop accepting first, so nothing starts a container while they are being stopped;
        // attach and exec sessions end with their containers, letting the servers finish.
        const serversClosed = Promise.all(servers.map((s) => closeServer(s)));
        await containers.shutdown();
        await serversClosed;
        await networks.close().catch((err: unknown) => logger.warn('closing networks', { err }));
        logger.info('berthd stopped');
        cleanup();
      })();
      return closing;
    };
    return { engine, server: servers[0] as Server, servers, addresses: bound, close };
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map((s) => closeServer(s)));
    logger.error('berthd failed to start', { err });
    cleanup();
    throw err;
  }
}

/** Stops accepting at once; in-flight requests get a grace period, then are cut. */
async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await closed;
  clearTimeout(timer);
}
