/**
 * Container stats as `docker stats` shows them: CPU % from the delta between a sample and the
 * one before it, memory without the page cache, network bytes summed over interfaces.
 */
import type { EngineClient } from '@berth/engine-client';
import { jsonMessages } from '@berth/engine-client';
import type { StatsSample, Usage } from '../shared/contract.js';
import { containerListSchema, infoSchema, statsSchema, type StatsJson } from './engine-schemas.js';

/** 100 means one CPU fully used (so up to 100 × CPUs), as the docker CLI computes it. */
export function cpuPercent(s: StatsJson): number {
  const pre = s.precpu_stats;
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - (pre?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 1;
  if (!pre?.system_cpu_usage || sysDelta <= 0 || cpuDelta <= 0) return 0;
  return (cpuDelta / sysDelta) * cpus * 100;
}

/** cgroup v2 reports `inactive_file`, v1 `total_inactive_file`; both are cache to leave out. */
export function memoryUsage(s: StatsJson): number {
  const usage = s.memory_stats.usage ?? 0;
  const st = s.memory_stats.stats ?? {};
  const cache = st['inactive_file'] ?? st['total_inactive_file'] ?? 0;
  return Math.max(0, usage - cache);
}

export function toSample(streamId: string, s: StatsJson, now = Date.now()): StatsSample {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  const read = s.read ? Date.parse(s.read) : NaN;
  return {
    streamId,
    time: Number.isFinite(read) && read > 0 ? read : now,
    cpuPercent: cpuPercent(s),
    memUsage: memoryUsage(s),
    memLimit: s.memory_stats.limit ?? 0,
    netRx: rx,
    netTx: tx,
  };
}

/** Follows a container's stats stream; `onSample` for each, resolves when it ends. */
export async function followStats(
  client: EngineClient,
  id: string,
  signal: AbortSignal,
  onSample: (s: StatsJson) => void,
): Promise<void> {
  const res = await client.raw({
    method: 'GET',
    path: `/containers/${encodeURIComponent(id)}/stats`,
    query: { stream: true },
    signal,
  });
  for await (const raw of jsonMessages(res)) {
    const parsed = statsSchema.safeParse(raw);
    if (parsed.success) onSample(parsed.data);
  }
}

/** How many running containers one usage reading samples at most (each costs a request). */
export const USAGE_SAMPLE_LIMIT = 40;

/**
 * What the running containers use right now, summed: one two-sample stats call per container
 * (the engine waits a second between them so the CPU % is real), in parallel.
 */
export async function engineUsage(client: EngineClient): Promise<Usage> {
  const [running, info] = await Promise.all([
    client.request({
      method: 'GET',
      path: '/containers/json',
      schema: containerListSchema,
      timeoutMs: 10_000,
    }),
    client.request({ method: 'GET', path: '/info', schema: infoSchema, timeoutMs: 10_000 }),
  ]);
  const sampled = running.slice(0, USAGE_SAMPLE_LIMIT);
  const stats = await Promise.all(
    sampled.map((c) =>
      client
        .request({
          method: 'GET',
          path: `/containers/${encodeURIComponent(c.Id)}/stats`,
          query: { stream: false },
          schema: statsSchema,
          timeoutMs: 15_000,
        })
        .catch(() => undefined),
    ),
  );
  let cpu = 0;
  let mem = 0;
  for (const s of stats) {
    if (!s) continue;
    cpu += cpuPercent(s);
    mem += memoryUsage(s);
  }
  const cpus = info.NCPU || 1;
  return {
    cpuPercent: Math.min(100, cpu / cpus),
    memUsed: mem,
    memTotal: info.MemTotal ?? 0,
    sampled: sampled.length,
  };
}
