/**
 * The System endpoints: `/_ping`, `/version`, `/info`, `/events`, `/system/df`, `/auth`.
 * Field names and shapes follow moby's types because the docker CLI prints them as they are.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import {
  availableParallelism,
  hostname,
  machine,
  release,
  totalmem,
  type as osType,
} from 'node:os';
import { type CgroupInfo, detectCgroup } from '../../containers/cgroups.js';
import { detectRuntime } from '../../containers/oci-runtime.js';
import type { ContainerService } from '../../containers/service.js';
import { containerSummary } from '../../containers/view.js';
import type { Engine } from '../../engine.js';
import type { ApiVolume } from '../../volumes/store.js';
import type { EngineEvent } from '../../events/bus.js';
import { EVENT_FILTER_KEYS, eventMatches } from '../../events/filter.js';
import { parseTimestamp } from '../../events/timestamp.js';
import { imageDetails, imageSummary, layerSizes } from '../../images/inspect.js';
import { hostPlatform } from '../../images/platform.js';
import { registryApiHost } from '../../images/reference.js';
import {
  Authorizer,
  parseChallenges,
  type RegistryAuth,
  registryAuthSchema,
} from '../../images/registry/auth.js';
import { discardBody, registryScheme, send } from '../../images/registry/transport.js';
import { InvalidParameterError, SystemError, UnauthorizedError } from '../errors.js';
import { checkFilterKeys, JsonStream, queryFilters, readJson, sendJson } from '../http.js';
import type { RequestContext, Router } from '../router.js';
import { API_VERSION, compareApiVersions, MIN_API_VERSION } from '../server.js';
import { volumesDiskUsage } from './volumes.js';

export function registerSystemRoutes(router: Router, engine: Engine): void {
  router.get('/_ping', ping);
  router.head('/_ping', ping);
  router.get('/version', ({ res }) => sendJson(res, 200, versionInfo(engine)));
  router.get('/info', async ({ res, apiVersion }) =>
    sendJson(res, 200, await systemInfo(engine, apiVersion)),
  );
  router.get('/events', (ctx) => streamEvents(engine, ctx));
  router.post('/auth', async ({ req, res }) => {
    const auth = await readJson(req, registryAuthSchema);
    await checkLogin(auth, engine.config.insecureRegistries);
    sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
  router.get('/system/df', async ({ res, apiVersion }) =>
    sendJson(res, 200, await diskUsage(engine, apiVersion)),
  );
}

function ping({ req, res }: RequestContext): void {
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Builder-Version', '1');
  res.setHeader('Swarm', 'inactive');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  if (req.method === 'HEAD') {
    res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  res.setHeader('Content-Length', '2');
  res.end('OK');
}

// --- /version -----------------------------------------------------------------------------

/** What the docker CLI prints as "Go version": the runtime that runs the engine. */
const RUNTIME_VERSION = `node ${process.version}`;

export function versionInfo(engine: Engine) {
  const { version, gitCommit = 'unknown', buildTime = '' } = engine.config;
  const common = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: gitCommit,
    GoVersion: RUNTIME_VERSION,
    Os: 'linux',
    Arch: hostPlatform().architecture,
    KernelVersion: release(),
    BuildTime: buildTime,
  };
  return {
    Platform: { Name: 'Berth Engine' },
    Components: [
      {
        Name: 'Engine',
        Version: version,
        Details: { ...common, Experimental: 'false' },
      },
    ],
    Version: version,
    ...common,
    Experimental: false,
  };
}

// --- /info --------------------------------------------------------------------------------

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** moby's sysinfo booleans: which limits the host's cgroups can enforce. */
function cgroupFeatures(cgroup: CgroupInfo) {
  const has = (c: string) => cgroup.controllers.has(c);
  return {
    MemoryLimit: has('memory'),
    SwapLimit: cgroup.swap,
    CpuCfsPeriod: has('cpu'),
    CpuCfsQuota: has('cpu'),
    CPUShares: has('cpu'),
    CPUSet: has('cpuset'),
    PidsLimit: has('pids'),
    // cgroup v2 has no OOM-killer switch.
    OomKillDisable: cgroup.mode === 'legacy' && has('memory'),
  };
}

/** The OCI runtime containers will run with, as /info names it. */
function runtimes(cgroup: CgroupInfo): { default: string; all: Record<string, { path: string }> } {
  try {
    const choice = detectRuntime(cgroup);
    return { default: choice.name, all: { [choice.name]: { path: choice.binary } } };
  } catch {
    return { default: 'runc', all: {} };
  }
}

function osRelease(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (readText('/etc/os-release') ?? '').split('\n')) {
    const m = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (m?.[1] !== undefined) out[m[1]] = m[3] ?? '';
  }
  return out;
}

function sysctlOn(name: string): boolean {
  return readText(`/proc/sys/${name}`)?.trim() === '1';
}

const FS_TYPES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
};

async function backingFilesystem(path: string): Promise<string> {
  try {
    const { type } = await statfs(path);
    return FS_TYPES[type] ?? `0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'];

/** `--insecure-registry` values split as dockerd does: CIDRs vs. registry host names. */
export function registryConfig(insecure: readonly string[]) {
  const isCidr = (v: string) => /^[\d.]+\/\d+$|^[\da-f:]+\/\d+$/i.test(v);
  const index = (name: string, secure: boolean, official: boolean) => ({
    Name: name,
    Mirrors: [] as string[],
    Secure: secure,
    Official: official,
  });
  const IndexConfigs: Record<string, ReturnType<typeof index>> = {
    'docker.io': index('docker.io', true, true),
  };
  for (const host of insecure.filter((v) => !isCidr(v))) {
    IndexConfigs[host] = index(host, false, false);
  }
  return {
    AllowNondistributableArtifactsCIDRs: [] as string[],
    AllowNondistributableArtifactsHostnames: [] as string[],
    InsecureRegistryCIDRs: [...LOOPBACK_CIDRS, ...insecure.filter(isCidr)],
    IndexConfigs,
    Mirrors: [] as string[],
  };
}

function containerCounts(engine: Engine) {
  const states = (engine.containers?.list() ?? []).map((r) => r.State);
  const paused = states.filter((s) => s.Running && s.Paused).length;
  const running = states.filter((s) => s.Running && !s.Paused).length;
  return {
    Containers: states.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: states.length - running - paused,
  };
}

export async function systemInfo(engine: Engine, apiVersion: string) {
  const { config } = engine;
  const os = osRelease();
  const images = await engine.images.list();
  const cgroup = detectCgroup();
  const runtime = runtimes(cgroup);
  const commit = { ID: '', Expected: '' };
  return {
    ID: config.id ?? '',
    ...containerCounts(engine),
    Images: images.length,
    Driver: 'overlayfs',
    DriverStatus: [
      ['Backing Filesystem', await backingFilesystem(config.dataRoot)],
      ['Supports d_type', 'true'],
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'none', 'null'],
      Authorization: null,
      Log: ['json-file', 'local'],
    },
    ...cgroupFeatures(cgroup),
    KernelMemory: false,
    KernelMemoryTCP: false,
    IPv4Forwarding: sysctlOn('net/ipv4/ip_forward'),
    BridgeNfIptables: sysctlOn('net/bridge/bridge-nf-call-iptables'),
    BridgeNfIp6tables: sysctlOn('net/bridge/bridge-nf-call-ip6tables'),
    Debug: config.debug ?? false,
    NFd: openFileCount(),
    NGoroutines: process.getActiveResourcesInfo().length,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroup.mode === 'unified' ? '2' : '1',
    NEventsListener: eventsListeners.get(engine) ?? 0,
    KernelVersion: release(),
    OperatingSystem: os.PRETTY_NAME ?? osType(),
    OSVersion: os.VERSION_ID ?? '',
    OSType: 'linux',
    Architecture: machine(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: registryConfig(config.insecureRegistries),
    NCPU: availableParallelism(),
    MemTotal: totalmem(),
    GenericResources: null,
    DockerRootDir: config.dataRoot,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: hostname(),
    Labels: [] as string[],
    ExperimentalBuild: false,
    ServerVersion: config.version,
    Runtimes: runtime.all,
    DefaultRuntime: runtime.default,
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: commit,
    RuncCommit: commit,
    InitCommit: commit,
    // Clients before API 1.42 warn unless the built-in profile is called "default".
    SecurityOptions: [
      `name=seccomp,profile=${compareApiVersions(apiVersion, '1.42') < 0 ? 'default' : 'builtin'}`,
    ],
    ProductLicense: '',
    CDISpecDirs: [] as string[],
    Containerd: null,
    Warnings: [] as string[],
  };
}

// --- /events ------------------------------------------------------------------------------

/**
 * Open `GET /events` streams per engine: Docker's NEventsListener counts API subscribers, not
 * the engine's own listeners on its bus (exec bookkeeping subscribes too).
 */
const eventsListeners = new WeakMap<Engine, number>();

async function streamEvents(engine: Engine, { res, query }: RequestContext): Promise<void> {
  const since = parseTimestamp(query.get('since'));
  const until = parseTimestamp(query.get('until'));
  if (since !== undefined && until !== undefined && until < since) {
    throw new InvalidParameterError(
      `\`since\` time (${query.get('since')}) cannot be after \`until\` time (${query.get('until')})`,
    );
  }
  const filters = queryFilters(query);
  checkFilterKeys(filters, EVENT_FILTER_KEYS);
  const wanted = (ev: EngineEvent) => eventMatches(filters, ev);

  const stream = new JsonStream(res);
  // The CLI waits for the headers before it shows anything, so send them at once.
  stream.start();
  res.flushHeaders();

  const nowNano = BigInt(Date.now()) * 1_000_000n;
  // Replay and subscribe with no await in between, so no event falls in a gap or comes twice.
  if (since !== undefined || until !== undefined) {
    for (const ev of engine.events.history(since ?? 0n, until)) if (wanted(ev)) stream.write(ev);
  }
  const unsubscribe = engine.events.subscribe((ev) => {
    if (wanted(ev) && (until === undefined || BigInt(ev.timeNano) <= until)) stream.write(ev);
  });
  eventsListeners.set(engine, (eventsListeners.get(engine) ?? 0) + 1);
  try {
    if (until !== undefined && until <= nowNano) return;

    // Streams until `until`, or until the client goes away (res 'close' fires on disconnect;
    // req 'close' may fire as soon as the request body is read).
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        engine.shutdown?.removeEventListener('abort', done);
        resolve();
      };
      const delayMs = until === undefined ? Infinity : Number((until - nowNano) / 1_000_000n) + 1;
      const timer = delayMs < 2 ** 31 ? setTimeout(done, delayMs) : undefined;
      res.once('close', done);
      if (engine.shutdown?.aborted) done();
      else engine.shutdown?.addEventListener('abort', done);
    });
  } finally {
    unsubscribe();
    eventsListeners.set(engine, (eventsListeners.get(engine) ?? 1) - 1);
    if (!res.writableEnded) stream.end();
  }
}

// --- /system/df ---------------------------------------------------------------------------

/**
 * `docker system df`: images with their unpacked size, the part of it shared with other
 * images (layers whose snapshot several images use) and how many containers use each;
 * containers with their writable-layer size; volumes with theirs. Reclaimable is what
 * nothing uses, counted the way the docker CLI counts it for the older shape.
 */
async function diskUsage(engine: Engine, apiVersion: string) {
  const service = engine.containers;
  const containers = await Promise.all(
    (service?.list() ?? []).map(async (r) => {
      const sizes = await (service as ContainerService).sizes(r);
      return {
        running: r.State.Running,
        image: r.Image,
        rw: sizes.rw,
        summary: containerSummary(r, sizes),
      };
    }),
  );
  const sum = <T>(items: readonly T[], size: (item: T, index: number) => number) =>
    items.reduce((total, item, index) => total + size(item, index), 0);
  const details = await Promise.all(
    (await engine.images.list()).map((record) => imageDetails(engine.content, record)),
  );
  const sizes = await Promise.all(details.map((d) => layerSizes(engine.snapshots, d)));
  const users = new Map<string, number>();
  for (const d of details) {
    for (const chain of new Set(d.chainIds)) users.set(chain, (users.get(chain) ?? 0) + 1);
  }
  const images = details.map((d, i) => {
    const own = sizes[i] ?? [];
    const size = sum(own, (s) => s);
    const shared = sum(own, (s, j) => ((users.get(d.chainIds[j] ?? '') ?? 0) > 1 ? s : 0));
    return {
      size,
      summary: {
        ...imageSummary(d, size, apiVersion),
        SharedSize: shared,
        Containers: containers.filter((c) => c.image === d.record.id).length,
      },
    };
  });
  const layersSize = sum(await engine.snapshots.list(), (s) => s.size);
  const activeImages = images.filter((i) => i.summary.Containers > 0);
  const inUse = sum(activeImages, (i) => i.size);

  const volumes = engine.volumes ? await volumesDiskUsage(engine.volumes) : [];
  const volumeSize = (v: ApiVolume) => Math.max(v.UsageData?.Size ?? 0, 0);
  const unusedVolumes = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0);
  return {
    // The shape clients before API 1.52 read.
    LayersSize: layersSize,
    Images: images.map((i) => i.summary),
    Containers: containers.map((c) => c.summary),
    Volumes: volumes,
    BuildCache: [],
    // The per-type summaries of API 1.52 and later.
    ImageUsage: {
      ActiveCount: activeImages.length,
      TotalCount: images.length,
      Reclaimable: Math.max(layersSize - inUse, 0),
      TotalSize: layersSize,
    },
    ContainerUsage: {
      ActiveCount: containers.filter((c) => c.running).length,
      TotalCount: containers.length,
      Reclaimable: sum(
        containers.filter((c) => !c.running),
        (c) => c.rw,
      ),
      TotalSize: sum(containers, (c) => c.rw),
    },
    VolumeUsage: {
      ActiveCount: volumes.length - unusedVolumes.length,
      TotalCount: volumes.length,
      Reclaimable: sum(unusedVolumes, volumeSize),
      TotalSize: sum(volumes, volumeSize),
    },
    BuildCacheUsage: { ActiveCount: 0, TotalCount: 0, Reclaimable: 0, TotalSize: 0 },
  };
}

// --- /auth --------------------------------------------------------------------------------

/** The registry a `docker login` names: Docker Hub's legacy index URL means docker.io. */
export function loginDomain(serverAddress: string | undefined): string {
  const host = (serverAddress ?? '')
    .trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '');
  if (host === '' || host === 'index.docker.io' || host === 'registry-1.docker.io') {
    return 'docker.io';
  }
  return host;
}

/**
 * `docker login`: the credentials are good when the registry's `/v2/` accepts them (directly
 * with Basic, or through a token from its Bearer realm). Nothing is stored; the CLI keeps
 * the credentials and sends them with each pull and push.
 */
async function checkLogin(auth: RegistryAuth, insecure: readonly string[]): Promise<void> {
  const host = registryApiHost(loginDomain(auth.serveraddress));
  const url = new URL(`${registryScheme(host, insecure)}://${host}/v2/`);
  const failed = (status: number | undefined) =>
    `login attempt to ${url.href} failed with status: ${status ?? 0}`;
  const ping = await send({ method: 'GET', url });
  await discardBody(ping);
  // A registry without authentication lets everyone in, and so does Docker's login.
  if (ping.statusCode === 200) return;
  if (ping.statusCode !== 401) throw new SystemError(failed(ping.statusCode));
  const challenges = parseChallenges(ping.headers['www-authenticate']);
  const challenge =
    challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
  if (!challenge) throw new UnauthorizedError(`${failed(401)} (no supported challenge)`);
  const authorization = await new Authorizer(auth).authorization(challenge, []);
  const res = await send({
    method: 'GET',
    url,
    headers: authorization === undefined ? {} : { authorization },
  });
  await discardBody(res);
  if (res.statusCode === 200) return;
  if (res.statusCode === 401) throw new UnauthorizedError(`${failed(401)} Unauthorized`);
  throw new SystemError(failed(res.statusCode));
}
