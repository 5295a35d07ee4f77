/**
 * `docker stats`: one sample of a container's resource use in Docker's StatsJSON shape, read
 * from its cgroups (v1: cpuacct, cpu, memory, pids, blkio; v2: cpu.stat, memory.*, pids.*,
 * io.stat), the host's /proc/stat (system CPU time, the divisor of the CLI's CPU %), and the
 * container's network namespace (/proc/<pid>/net/dev). Missing files read as zeros: a
 * controller may be absent, or the container may have stopped between two reads.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { cgroupDirs } from './top.js';
import type { ContainerView } from './service.js';

/** Go's zero time, as moby leaves an unset `preread`. */
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** USER_HZ: /proc/stat and cpuacct.stat count in these ticks. */
const TICKS_PER_SECOND = 100;
const NS_PER_TICK = 1e9 / TICKS_PER_SECOND;

export interface CpuStats {
  cpu_usage: {
    total_usage: number;
    percpu_usage?: number[];
    usage_in_kernelmode: number;
    usage_in_usermode: number;
  };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface StatsJson {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: null;
    io_service_time_recursive: null;
    io_wait_time_recursive: null;
    io_merged_recursive: null;
    io_time_recursive: null;
    sectors_recursive: null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: {
    usage?: number;
    max_usage?: number;
    limit?: number;
    failcnt?: number;
    stats?: Record<string, number>;
  };
  networks?: Record<string, Record<string, number>>;
}

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function num(path: string): Promise<number | undefined> {
  const t = (await text(path))?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat). */
async function keyed(path: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of ((await text(path)) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** System CPU time in ns (the cpu line of /proc/stat) and the number of online CPUs. */
export async function systemCpu(): Promise<{ usage: number; online: number }> {
  const lines = ((await text('/proc/stat')) ?? '').split('\n');
  const first = (lines[0] ?? '').trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already within user).
  const ticks = first.slice(1, 9).reduce((a, b) => a + Number(b || 0), 0);
  const online = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return { usage: ticks * NS_PER_TICK, online };
}

function emptyCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

function blkioLines(t: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (t ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m)
      out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3] ?? '', value: Number(m[4]) });
  }
  return out;
}

async function v1Stats(
  dirs: Map<string, string>,
): Promise<Pick<StatsJson, 'cpu_stats' | 'memory_stats' | 'pids_stats' | 'blkio_stats'>> {
  const acct = dirs.get('cpuacct') ?? '';
  const cpu = dirs.get('cpu') ?? '';
  const mem = dirs.get('memory') ?? '';
  const pids = dirs.get('pids') ?? '';
  const blkio = dirs.get('blkio') ?? '';
  const acctStat = await keyed(join(acct, 'cpuacct.stat'));
  const throttle = await keyed(join(cpu, 'cpu.stat'));
  const percpu = ((await text(join(acct, 'cpuacct.usage_percpu'))) ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const limit = await num(join(mem, 'memory.limit_in_bytes'));
  const stats = await keyed(join(mem, 'memory.stat'));
  const serviceBytes =
    (await text(join(blkio, 'blkio.throttle.io_service_bytes_recursive'))) ??
    (await text(join(blkio, 'blkio.throttle.io_service_bytes')));
  const serviced =
    (await text(join(blkio, 'blkio.throttle.io_serviced_recursive'))) ??
    (await text(join(blkio, 'blkio.throttle.io_serviced')));
  const pidsLimit = await num(join(pids, 'pids.max'));
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: (await num(join(acct, 'cpuacct.usage'))) ?? 0,
        ...(percpu.length ? { percpu_usage: percpu } : {}),
        usage_in_kernelmode: (acctStat.system ?? 0) * NS_PER_TICK,
        usage_in_usermode: (acctStat.user ?? 0) * NS_PER_TICK,
      },
      throttling_data: {
        periods: throttle.nr_periods ?? 0,
        throttled_periods: throttle.nr_throttled ?? 0,
        throttled_time: throttle.throttled_time ?? 0,
      },
    },
    memory_stats: {
      usage: (await num(join(mem, 'memory.usage_in_bytes'))) ?? 0,
      max_usage: (await num(join(mem, 'memory.max_usage_in_bytes'))) ?? 0,
      failcnt: (await num(join(mem, 'memory.failcnt'))) ?? 0,
      stats,
      // Unlimited reads as a huge number: the machine's memory is the real limit (as moby).
      limit: limit === undefined || limit > totalmem() ? totalmem() : limit,
    },
    pids_stats: {
      current: (await num(join(pids, 'pids.current'))) ?? 0,
      ...(pidsLimit !== undefined ? { limit: pidsLimit } : {}),
    },
    blkio_stats: blkioStats(blkioLines(serviceBytes), blkioLines(serviced)),
  };
}

function blkioStats(bytes: BlkioEntry[], ios: BlkioEntry[]): StatsJson['blkio_stats'] {
  return {
    io_service_bytes_recursive: bytes.length ? bytes : null,
    io_serviced_recursive: ios.length ? ios : null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

async function v2Stats(
  dir: string,
): Promise<Pick<StatsJson, 'cpu_stats' | 'memory_stats' | 'pids_stats' | 'blkio_stats'>> {
  const cpu = await keyed(join(dir, 'cpu.stat'));
  const limit = await num(join(dir, 'memory.max'));
  const events = await keyed(join(dir, 'memory.events'));
  const pidsLimit = await num(join(dir, 'pids.max'));
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of ((await text(join(dir, 'io.stat'))) ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(kvs.map((s) => s.split('=') as [string, string]));
    const base = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push(
      { ...base, op: 'read', value: Number(kv.rbytes ?? 0) },
      { ...base, op: 'write', value: Number(kv.wbytes ?? 0) },
    );
    ios.push(
      { ...base, op: 'read', value: Number(kv.rios ?? 0) },
      { ...base, op: 'write', value: Number(kv.wios ?? 0) },
    );
  }
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
        usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      throttling_data: {
        periods: cpu.nr_periods ?? 0,
        throttled_periods: cpu.nr_throttled ?? 0,
        throttled_time: (cpu.throttled_usec ?? 0) * 1000,
      },
    },
    memory_stats: {
      usage: (await num(join(dir, 'memory.current'))) ?? 0,
      stats: await keyed(join(dir, 'memory.stat')),
      limit: limit === undefined || limit > totalmem() ? totalmem() : limit,
      failcnt: events.oom ?? 0,
    },
    pids_stats: {
      current: (await num(join(dir, 'pids.current'))) ?? 0,
      ...(pidsLimit !== undefined ? { limit: pidsLimit } : {}),
    },
    blkio_stats: blkioStats(bytes, ios),
  };
}

/** Interface counters of the network namespace `pid` is in, loopback left out. */
export async function networkStats(pid: number): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of ((await text(`/proc/${pid}/net/dev`)) ?? '').split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = (m[2] ?? '').trim().split(/\s+/).map(Number);
    out[m[1] ?? ''] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}

/** Stats of a container that is not running: zeros, as moby answers then. */
export function emptyStats(view: ContainerView): StatsJson {
  return {
    name: view.name,
    id: view.id,
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: blkioStats([], []),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
  };
}

/** One sample; `previous` (the last sample) fills preread/precpu_stats. */
export async function sampleStats(view: ContainerView, previous?: StatsJson): Promise<StatsJson> {
  if (!view.running || view.pid <= 0) return emptyStats(view);
  const dirs = cgroupDirs(view.pid);
  const v2 = !dirs.has('memory') && !dirs.has('cpuacct') && dirs.has('');
  const read = new Date().toISOString();
  const [sys, cg] = await Promise.all([
    systemCpu(),
    v2 ? v2Stats(dirs.get('') ?? '') : v1Stats(dirs),
  ]);
  cg.cpu_stats.system_cpu_usage = sys.usage;
  cg.cpu_stats.online_cpus = sys.online;
  const hostNet = (view.record.HostConfig as { NetworkMode?: string }).NetworkMode === 'host';
  const networks = hostNet ? undefined : await networkStats(view.pid);
  return {
    name: view.name,
    id: view.id,
    read,
    preread: previous?.read ?? ZERO_TIME,
    ...cg,
    num_procs: 0,
    storage_stats: {},
    precpu_stats: previous?.cpu_stats ?? emptyCpu(),
    ...(networks && Object.keys(networks).length ? { networks } : {}),
  };
}
