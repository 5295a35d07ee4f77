/**
 * The OCI runtime bundle's config.json for one container: Docker's Config + HostConfig (and
 * the image's defaults) turned into what runc/crun execute, with Docker's defaults — its
 * capability set, masked and read-only /proc paths, device rules, mounts and seccomp profile
 * (moby's oci/defaults.go and daemon/oci_linux.go are the reference for every rule here).
 *
 * Terms: *rootfs* is the host directory the container sees as `/` (an overlay mount);
 * *container path* is a path as the container sees it.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';
import { InvalidParameterError } from '../api/errors.js';
import type { ContainerConfig as ImageContainerConfig } from '../images/oci.js';
import type { CgroupInfo } from './cgroups.js';
import { CONTAINER_INIT_PATH } from './init-binary.js';
import { tweakCapabilities } from './capabilities.js';
import { resolveInRoot } from './rootfs-path.js';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default.js';
import { parseSeccompProfile, toOciSeccomp, type OciSeccomp } from './seccomp.js';
import { resolveUser } from './user.js';

// ---- The OCI runtime-spec subset berthd writes -------------------------------------------

export interface RuntimeUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface RuntimeCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable?: string[];
  ambient?: string[];
}

export interface RuntimeRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** `process` of config.json; also the process.json of `runc exec --process`. */
export interface RuntimeProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: RuntimeUser;
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: RuntimeCapabilities;
  rlimits?: RuntimeRlimit[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface RuntimeMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface RuntimeDeviceRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access?: string;
}

export interface RuntimeDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface RuntimeResources {
  devices: RuntimeDeviceRule[];
  memory?: {
    limit?: number;
    reservation?: number;
    swap?: number;
    swappiness?: number;
    disableOOMKiller?: boolean;
  };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

export interface RuntimeLinux {
  namespaces: Array<{ type: NamespaceType; path?: string }>;
  maskedPaths: string[];
  readonlyPaths: string[];
  resources: RuntimeResources;
  devices?: RuntimeDevice[];
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  seccomp?: OciSeccomp;
}

/** config.json of an OCI runtime bundle (the subset berthd produces). */
export interface RuntimeSpec {
  ociVersion: string;
  process: RuntimeProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts: RuntimeMount[];
  linux: RuntimeLinux;
}

// ---- Input -------------------------------------------------------------------------------

/** The parts of Docker's container Config (POST /containers/create) the spec needs. */
export interface SpecConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Tty?: boolean;
}

/** The parts of Docker's HostConfig the spec needs. */
export interface SpecHostConfig {
  Privileged?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  SecurityOpt?: string[] | null;
  GroupAdd?: string[] | null;
  ReadonlyRootfs?: boolean;
  ShmSize?: number;
  Tmpfs?: Record<string, string> | null;
  OomScoreAdj?: number;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  Sysctls?: Record<string, string> | null;
  ConsoleSize?: [number, number] | number[] | null;
  Memory?: number;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  Devices?: Array<{
    PathOnHost: string;
    PathInContainer?: string;
    CgroupPermissions?: string;
  }> | null;
  DeviceCgroupRules?: string[] | null;
  NetworkMode?: string;
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  /** `--init`: run the command under the init binary (SpecInput.initPath) as PID 1. */
  Init?: boolean | null;
}

/** Where a namespace comes from: a new one, the host's, or an existing one by path. */
export type NamespaceSetting = 'private' | 'host' | { path: string };

/** A caller-resolved mount (volumes are binds of the volume's directory by then). */
export type SpecMount =
  | {
      type: 'bind';
      source: string;
      destination: string;
      readOnly?: boolean;
      /** Docker's propagation names; default rprivate. */
      propagation?: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
      nonRecursive?: boolean;
    }
  | {
      type: 'tmpfs';
      destination: string;
      /** Docker's tmpfs data, e.g. "size=64m,mode=1777,exec". */
      options?: string;
      sizeBytes?: number;
      /** Permission bits, e.g. 0o1777. */
      mode?: number;
    };

export interface SpecInput {
  /** The container ID; its first 12 characters are the default hostname. */
  id: string;
  /** Host path of the mounted root filesystem. */
  rootfs: string;
  config: SpecConfig;
  hostConfig?: SpecHostConfig;
  /**
   * The image's runtime defaults. Give it when `config` is the client's request, not yet merged
   * with the image (merging twice is harmless except for Entrypoint/Cmd, so pass one or other).
   */
  image?: ImageContainerConfig;
  mounts?: SpecMount[];
  /** Overrides the namespace a HostConfig mode would choose (e.g. the netns of a network). */
  namespaces?: Partial<Record<'network' | 'pid' | 'ipc' | 'uts' | 'cgroup', NamespaceSetting>>;
  cgroupsPath?: string;
  /** From detectCgroup(); limits needing a missing controller (or swap) are left out. */
  cgroup?: CgroupInfo;
  /** Node `process.arch` of the container (default: this process's). */
  arch?: string;
  /** Host path of the init binary (findInitBinary()); required when HostConfig.Init is set. */
  initPath?: string;
}

// ---- Docker's defaults -------------------------------------------------------------------

export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** moby's oci.DefaultLinuxSpec() masked paths. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** moby's default device cgroup: deny all, allow the basics, explicitly deny /dev/fuse. */
const DEFAULT_DEVICE_RULES: readonly RuntimeDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
const MIN_MEMORY = 6 * 1024 * 1024;
const CFS_PERIOD_US = 100_000;

const ULIMIT_NAMES = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

// ---- Config merging and the command line --------------------------------------------------

/** moby's ReplaceOrAppendEnvValues: later entries win per key; a bare `KEY` unsets KEY. */
export function mergeEnv(...lists: ReadonlyArray<readonly string[] | null | undefined>): string[] {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const e of list ?? []) {
      const eq = e.indexOf('=');
      const key = eq < 0 ? e : e.slice(0, eq);
      out.set(key, e); // an existing key keeps its place, as in moby
    }
  }
  return [...out.values()].filter((e) => e.includes('='));
}

/**
 * The container config after image defaults are applied (moby's merge at create time):
 * user's Entrypoint replaces the image's and then drops the image's Cmd too; an Entrypoint of
 * `[""]` (docker run --entrypoint "") means none at all.
 */
export function mergeImageConfig(
  config: SpecConfig,
  image: ImageContainerConfig | undefined,
): SpecConfig {
  if (!image) return config;
  const merged: SpecConfig = { ...config };
  if (!merged.User) merged.User = image.User ?? '';
  if (!merged.WorkingDir) merged.WorkingDir = image.WorkingDir ?? '';
  merged.Env = mergeEnv(image.Env, config.Env);
  if (!config.Entrypoint?.length) {
    if (!config.Cmd?.length) merged.Cmd = image.Cmd ?? null;
    if (config.Entrypoint == null) merged.Entrypoint = image.Entrypoint ?? null;
  }
  return merged;
}

/** argv of the container's process; 400 "No command specified" when there is none. */
export function commandLine(config: SpecConfig): string[] {
  const entrypoint =
    config.Entrypoint?.length === 1 && config.Entrypoint[0] === '' ? [] : (config.Entrypoint ?? []);
  const args = [...entrypoint, ...(config.Cmd ?? [])];
  if (args.length === 0) throw new InvalidParameterError('No command specified');
  return args;
}

// ---- Validation (moby rejects these at create with 400) -----------------------------------

/** Checks HostConfig resource values the way moby's verifyPlatformContainerResources does. */
export function validateHostConfig(hc: SpecHostConfig): void {
  const bad = (m: string): never => {
    throw new InvalidParameterError(m);
  };
  const memory = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  if (memory > 0 && memory < MIN_MEMORY) bad('Minimum memory limit allowed is 6MB');
  if (swap > 0 && memory === 0) {
    bad('You should always set the Memory limit when using Memoryswap limit, see usage');
  }
  if (swap > 0 && swap < memory) {
    bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  const reservation = hc.MemoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY) {
    bad('Minimum memory reservation allowed is 6MB');
  }
  const swappiness = hc.MemorySwappiness;
  if (swappiness != null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    bad(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const nano = hc.NanoCpus ?? 0;
  if (nano > 0 && (hc.CpuPeriod ?? 0) > 0) {
    bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (nano > 0 && (hc.CpuQuota ?? 0) > 0) {
    bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  }
  const cpus = availableParallelism();
  if (nano < 0 || nano > cpus * 1e9 || (nano > 0 && nano < 1e7)) {
    bad(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
  }
  const period = hc.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1_000_000)) {
    bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = hc.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) {
    bad(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  }
  if ((hc.ShmSize ?? 0) < 0) bad('SHM size can not be less than 0');
  for (const u of hc.Ulimits ?? []) {
    if (!ULIMIT_NAMES.has(u.Name)) bad(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) {
      bad(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    }
  }
}

interface SecurityOptions {
  noNewPrivileges: boolean;
  /** 'default', 'unconfined', or the JSON text of a profile. */
  seccomp: string;
  systemPathsUnconfined: boolean;
}

/** moby's parseSecurityOpt: `key=value` (or legacy `key:value`); apparmor/label are accepted and ignored. */
function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = {
    noNewPrivileges: false,
    seccomp: 'default',
    systemPathsUnconfined: false,
  };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue; // legacy "label disable"
    let sep = opt.indexOf('=');
    if (sep < 0) sep = opt.indexOf(':');
    if (sep < 0) throw new InvalidParameterError(`invalid --security-opt 1: "${opt}"`);
    const key = opt.slice(0, sep);
    const value = opt.slice(sep + 1);
    switch (key) {
      case 'label':
      case 'apparmor':
        break;
      case 'seccomp':
        out.seccomp = value === 'builtin' ? 'default' : value;
        break;
      case 'no-new-privileges':
        if (value !== 'true' && value !== 'false') {
          throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        }
        out.noNewPrivileges = value === 'true';
        break;
      case 'systempaths':
        if (value !== 'unconfined') {
          throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
        }
        out.systemPathsUnconfined = true;
        break;
      default:
        throw new InvalidParameterError(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

// ---- Mounts ------------------------------------------------------------------------------

function defaultMounts(shmSize: number, privileged: boolean): RuntimeMount[] {
  const sysMode = privileged ? 'rw' : 'ro';
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', sysMode],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', sysMode],
    },
    {
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

/** Flags whose later opposite wins (tmpfs "exec" after the default "noexec"). */
const OPPOSITES: Record<string, string> = {
  exec: 'noexec',
  suid: 'nosuid',
  dev: 'nodev',
  rw: 'ro',
  atime: 'noatime',
};

/** moby's MergeTmpfsOptions: one entry per flag pair or key, the last one given wins. */
function mergeMountOptions(options: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const o of options) {
    const eq = o.indexOf('=');
    let key = eq < 0 ? o : o.slice(0, eq);
    for (const [pos, neg] of Object.entries(OPPOSITES)) if (key === neg) key = pos;
    byKey.delete(key);
    byKey.set(key, o);
  }
  return [...byKey.values()];
}

function checkDestination(dest: string, type: string): string {
  if (!dest.startsWith('/')) {
    throw new InvalidParameterError(
      `invalid mount config for type "${type}": invalid mount path: '${dest}' mount path must be absolute`,
    );
  }
  const clean = posix.normalize(dest).replace(/(.)\/$/, '$1');
  if (clean === '/') {
    throw new InvalidParameterError(
      `invalid mount config for type "${type}": invalid specification: destination can't be '/'`,
    );
  }
  return clean;
}

function userMount(m: SpecMount): RuntimeMount {
  const destination = checkDestination(m.destination, m.type);
  if (m.type === 'bind') {
    const options = [m.nonRecursive ? 'bind' : 'rbind', m.propagation ?? 'rprivate'];
    if (m.readOnly) options.push('ro');
    return { destination, type: 'bind', source: m.source, options };
  }
  const options = ['noexec', 'nosuid', 'nodev'];
  if (m.sizeBytes !== undefined && m.sizeBytes > 0) options.push(`size=${m.sizeBytes}`);
  if (m.mode !== undefined) options.push(`mode=${m.mode.toString(8)}`);
  if (m.options) options.push(...m.options.split(',').filter(Boolean));
  return { destination, type: 'tmpfs', source: 'tmpfs', options: mergeMountOptions(options) };
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

function buildMounts(input: SpecInput, privileged: boolean, ipc: NamespaceSetting): RuntimeMount[] {
  const hc = input.hostConfig ?? {};
  const requested: SpecMount[] = [
    ...Object.entries(hc.Tmpfs ?? {}).map(([destination, options]): SpecMount => ({
      type: 'tmpfs',
      destination,
      options,
    })),
    ...(input.mounts ?? []),
  ];
  const users = requested.map(userMount);
  const seen = new Set<string>();
  for (const m of users) {
    if (seen.has(m.destination)) {
      throw new InvalidParameterError(`Duplicate mount point: ${m.destination}`);
    }
    seen.add(m.destination);
  }
  const mountsDev = seen.has('/dev');
  const defaults = defaultMounts(hc.ShmSize || DEFAULT_SHM_SIZE, privileged).filter((m) => {
    if (seen.has(m.destination)) return false;
    if (mountsDev && m.destination.startsWith('/dev/')) return false;
    if (m.destination === '/dev/shm' && ipc !== 'private') return false;
    return true;
  });
  if (ipc === 'host' && !seen.has('/dev/shm') && !mountsDev) {
    defaults.push({
      destination: '/dev/shm',
      type: 'bind',
      source: '/dev/shm',
      options: ['rbind', 'rprivate'],
    });
  }
  // Parents before children, so a mount at /a/b is not hidden by a later one at /a.
  users.sort((a, b) => depth(a.destination) - depth(b.destination));
  return [...defaults, ...users];
}

// ---- Namespaces, devices, resources --------------------------------------------------------

function modeSetting(mode: string | undefined): NamespaceSetting {
  return mode === 'host' ? 'host' : 'private';
}

function namespaces(input: SpecInput): {
  list: RuntimeLinux['namespaces'];
  settings: Record<'network' | 'pid' | 'ipc' | 'uts' | 'cgroup', NamespaceSetting>;
} {
  const hc = input.hostConfig ?? {};
  const given = input.namespaces ?? {};
  const settings = {
    network: given.network ?? modeSetting(hc.NetworkMode),
    pid: given.pid ?? modeSetting(hc.PidMode),
    ipc: given.ipc ?? modeSetting(hc.IpcMode),
    uts: given.uts ?? modeSetting(hc.UTSMode),
    cgroup: given.cgroup ?? 'host',
  };
  const list: RuntimeLinux['namespaces'] = [{ type: 'mount' }];
  for (const type of ['network', 'uts', 'pid', 'ipc', 'cgroup'] as const) {
    const s = settings[type];
    if (s === 'host') continue;
    list.push(s === 'private' ? { type } : { type, path: s.path });
  }
  return { list, settings };
}

const DEVICE_RULE_RE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

function deviceRule(rule: string): RuntimeDeviceRule {
  const m = DEVICE_RULE_RE.exec(rule);
  if (!m) throw new InvalidParameterError(`invalid device cgroup format '${rule}'`);
  const [, type, major, minor, access] = m as unknown as [
    string,
    'a' | 'b' | 'c',
    string,
    string,
    string,
  ];
  return {
    allow: true,
    type,
    ...(major === '*' ? {} : { major: Number(major) }),
    ...(minor === '*' ? {} : { minor: Number(minor) }),
    access,
  };
}

/** A host device node given to the container (HostConfig.Devices), by its major/minor. */
function hostDevice(d: {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}): {
  device: RuntimeDevice;
  rule: RuntimeDeviceRule;
} {
  const notDevice = (): never => {
    throw new InvalidParameterError(
      `error gathering device information while adding custom device "${d.PathOnHost}": not a device node`,
    );
  };
  let st;
  try {
    st = statSync(d.PathOnHost, { bigint: true });
  } catch {
    return notDevice();
  }
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : notDevice();
  // glibc's major()/minor() of a 64-bit dev_t.
  const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
  const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
  const access = d.CgroupPermissions || 'rwm';
  if (!/^[rwm]{1,3}$/.test(access)) {
    throw new InvalidParameterError(`invalid device cgroup permissions: ${access}`);
  }
  return {
    device: {
      path: d.PathInContainer || d.PathOnHost,
      type,
      major,
      minor,
      fileMode: Number(st.mode & 0o7777n),
      uid: 0,
      gid: 0,
    },
    rule: { allow: true, type, major, minor, access },
  };
}

function resources(hc: SpecHostConfig, privileged: boolean, cgroup?: CgroupInfo): RuntimeResources {
  const has = (c: string): boolean => cgroup === undefined || cgroup.controllers.has(c);
  const res: RuntimeResources = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [...DEFAULT_DEVICE_RULES],
  };
  const memory: NonNullable<RuntimeResources['memory']> = {};
  if (hc.Memory) {
    memory.limit = hc.Memory;
    // moby: an unset MemorySwap means twice the memory (when swap can be limited at all).
    const swap = hc.MemorySwap || hc.Memory * 2;
    if (cgroup === undefined || cgroup.swap) memory.swap = swap;
  } else if (hc.MemorySwap === -1 && (cgroup === undefined || cgroup.swap)) {
    memory.swap = -1;
  }
  if (hc.MemoryReservation) memory.reservation = hc.MemoryReservation;
  if (hc.MemorySwappiness != null && hc.MemorySwappiness >= 0) {
    memory.swappiness = hc.MemorySwappiness;
  }
  if (hc.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0 && has('memory')) res.memory = memory;

  const cpu: NonNullable<RuntimeResources['cpu']> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.NanoCpus) {
    cpu.period = CFS_PERIOD_US;
    cpu.quota = Math.floor((hc.NanoCpus * CFS_PERIOD_US) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (Object.keys(cpu).length > 0 && has('cpu')) res.cpu = cpu;
  if (hc.CpusetCpus || hc.CpusetMems) {
    if (has('cpuset')) {
      res.cpu = {
        ...res.cpu,
        ...(hc.CpusetCpus ? { cpus: hc.CpusetCpus } : {}),
        ...(hc.CpusetMems ? { mems: hc.CpusetMems } : {}),
      };
    }
  }
  if (hc.PidsLimit != null && hc.PidsLimit > 0 && has('pids')) {
    res.pids = { limit: hc.PidsLimit };
  }
  if (hc.BlkioWeight && (has('blkio') || has('io'))) res.blockIO = { weight: hc.BlkioWeight };
  return res;
}

/** Namespaced sysctls a container may set (moby's ValidateSysctl). */
function checkSysctl(key: string, hostNetwork: boolean, hostIpc: boolean): void {
  const ipc =
    ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall'].includes(
      key,
    ) ||
    ['kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(key) ||
    key.startsWith('fs.mqueue.');
  if (ipc && !hostIpc) return;
  if (key.startsWith('net.') && !hostNetwork) return;
  if (key === 'kernel.domainname' || key === 'kernel.hostname') return;
  throw new InvalidParameterError(`sysctl '${key}' is not allowed`);
}

// ---- The working directory ----------------------------------------------------------------

/** Pseudo-filesystems the runtime mounts over the rootfs; a cwd in them could reach host fds. */
const RUNTIME_MOUNTS = ['/proc', '/sys', '/dev'];

/**
 * The process cwd: absolute, resolved inside the rootfs, and not under /proc, /sys or /dev
 * (CVE-2024-21626: a cwd of /proc/self/fd/N opened a host directory fd leaked into the
 * container). Missing directories are fine (the engine creates WorkingDir at create).
 */
export async function checkWorkingDir(
  rootfs: string,
  workingDir: string | undefined,
): Promise<string> {
  const wd = workingDir || '/';
  if (!wd.startsWith('/')) {
    throw new InvalidParameterError(
      `the working directory '${wd}' is invalid, it needs to be an absolute path`,
    );
  }
  const clean = posix.normalize(wd);
  const resolved = await resolveInRoot(rootfs, clean);
  const inside = (p: string): boolean =>
    RUNTIME_MOUNTS.some((m) => p === m || p.startsWith(`${m}/`));
  if (resolved.climbedOut || inside(resolved.inContainer) || inside(clean)) {
    throw new InvalidParameterError(
      `the working directory '${wd}' is invalid, it resolves outside the container's root filesystem`,
    );
  }
  return clean.length > 1 ? clean.replace(/\/$/, '') : clean;
}

// ---- buildSpec -----------------------------------------------------------------------------

/** config.json for the container. Throws 400 for invalid settings, 500 for unknown users. */
export async function buildSpec(input: SpecInput): Promise<RuntimeSpec> {
  const hc = input.hostConfig ?? {};
  validateHostConfig(hc);
  const config = mergeImageConfig(input.config, input.image);
  const command = commandLine(config);
  if (hc.Init && !input.initPath) {
    throw new InvalidParameterError('--init needs the host path of an init binary');
  }
  // moby: `docker-init -- cmd…`; "--" so the command's own flags are not tini's.
  const args = hc.Init ? [CONTAINER_INIT_PATH, '--', ...command] : command;
  const initMounts: SpecMount[] =
    hc.Init && input.initPath
      ? [
          {
            type: 'bind',
            source: input.initPath,
            destination: CONTAINER_INIT_PATH,
            readOnly: true,
            nonRecursive: true,
          },
        ]
      : [];
  const privileged = hc.Privileged ?? false;
  const security = parseSecurityOpts(hc.SecurityOpt ?? []);
  const ns = namespaces(input);

  const hostname =
    ns.settings.uts === 'host' ? undefined : config.Hostname || input.id.slice(0, 12);
  if (ns.settings.uts === 'host' && config.Hostname) {
    throw new InvalidParameterError('Conflicting options: hostname and the UTS mode');
  }

  const user = await resolveUser(input.rootfs, config.User, hc.GroupAdd ?? []);
  const cwd = await checkWorkingDir(input.rootfs, config.WorkingDir);

  const caps = tweakCapabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], privileged);
  const env = mergeEnv(
    [`PATH=${DEFAULT_PATH_ENV}`],
    hostname ? [`HOSTNAME=${hostname}`] : [],
    config.Tty ? ['TERM=xterm'] : [],
    config.Env,
  );

  const process: RuntimeProcess = {
    terminal: config.Tty ?? false,
    user: {
      uid: user.uid,
      gid: user.gid,
      ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
    },
    args,
    env,
    cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: security.noNewPrivileges,
  };
  const size = hc.ConsoleSize;
  if (config.Tty && size && size.length === 2 && (size[0] ?? 0) > 0 && (size[1] ?? 0) > 0) {
    process.consoleSize = { height: size[0] ?? 0, width: size[1] ?? 0 };
  }
  if (hc.OomScoreAdj !== undefined) process.oomScoreAdj = hc.OomScoreAdj;
  if (hc.Ulimits?.length) {
    process.rlimits = hc.Ulimits.map((u) => ({
      type: `RLIMIT_${u.Name.toUpperCase()}`,
      hard: u.Hard,
      soft: u.Soft,
    }));
  }

  const confined = !privileged && !security.systemPathsUnconfined;
  const linux: RuntimeLinux = {
    namespaces: ns.list,
    maskedPaths: confined ? [...(hc.MaskedPaths ?? DEFAULT_MASKED_PATHS)] : [],
    readonlyPaths: confined ? [...(hc.ReadonlyPaths ?? DEFAULT_READONLY_PATHS)] : [],
    resources: resources(hc, privileged, input.cgroup),
  };
  if (input.cgroupsPath) linux.cgroupsPath = input.cgroupsPath;
  if (!privileged) {
    const devices = (hc.Devices ?? []).map(hostDevice);
    if (devices.length) linux.devices = devices.map((d) => d.device);
    linux.resources.devices.push(
      ...devices.map((d) => d.rule),
      ...(hc.DeviceCgroupRules ?? []).map(deviceRule),
    );
  }
  if (hc.Sysctls && Object.keys(hc.Sysctls).length) {
    for (const key of Object.keys(hc.Sysctls)) {
      checkSysctl(key, ns.settings.network === 'host', ns.settings.ipc === 'host');
    }
    linux.sysctl = { ...hc.Sysctls };
  }
  if (!privileged && security.seccomp !== 'unconfined') {
    const profile =
      security.seccomp === 'default'
        ? DEFAULT_SECCOMP_PROFILE
        : parseSeccompProfile(security.seccomp);
    linux.seccomp = toOciSeccomp(profile, {
      ...(input.arch ? { arch: input.arch } : {}),
      capabilities: caps,
    });
  }

  return {
    ociVersion: '1.0.2',
    process,
    root: { path: input.rootfs, readonly: hc.ReadonlyRootfs ?? false },
    ...(hostname ? { hostname } : {}),
    ...(config.Domainname && hostname ? { domainname: config.Domainname } : {}),
    mounts: buildMounts(
      { ...input, mounts: [...(input.mounts ?? []), ...initMounts] },
      privileged,
      ns.settings.ipc,
    ),
    linux,
  };
}

/** Docker's exec config (POST /containers/{id}/exec), the parts a process needs. */
export interface ExecConfig {
  Cmd?: string[] | null;
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  Privileged?: boolean;
  ConsoleSize?: number[] | null;
}

/**
 * The process.json for `runc exec`: the container's own process (from its config.json) with
 * the exec's command, env added on top, and its user/cwd/terminal when given — as moby builds
 * exec processes. `rootfs` is the container's root, for user and working-dir lookups.
 */
export async function buildExecProcess(
  rootfs: string,
  container: RuntimeProcess,
  exec: ExecConfig,
  groupAdd: readonly string[] = [],
): Promise<RuntimeProcess> {
  if (!exec.Cmd?.length) throw new InvalidParameterError('No exec command specified');
  const process: RuntimeProcess = {
    ...container,
    args: [...exec.Cmd],
    terminal: exec.Tty ?? false,
    // TERM follows the exec's own Tty, not the container's.
    env: mergeEnv(
      container.env.filter((e) => e !== 'TERM=xterm'),
      exec.Tty ? ['TERM=xterm'] : [],
      exec.Env,
    ),
  };
  delete process.consoleSize;
  const size = exec.ConsoleSize;
  if (exec.Tty && size?.length === 2 && (size[0] ?? 0) > 0 && (size[1] ?? 0) > 0) {
    process.consoleSize = { height: size[0] ?? 0, width: size[1] ?? 0 };
  }
  if (exec.User) {
    const user = await resolveUser(rootfs, exec.User, groupAdd);
    process.user = {
      uid: user.uid,
      gid: user.gid,
      ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
    };
  }
  if (exec.WorkingDir) process.cwd = await checkWorkingDir(rootfs, exec.WorkingDir);
  if (exec.Privileged) {
    const all = tweakCapabilities([], [], true);
    process.capabilities = { bounding: all, effective: all, permitted: all };
  }
  return process;
}
