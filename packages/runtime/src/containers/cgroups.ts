/**
 * What the host's cgroup hierarchy offers, read (never configured) from /sys/fs/cgroup and
 * /proc/self/mountinfo. "unified" means pure cgroup v2 (crun's home); "legacy" covers both v1
 * and the hybrid layout where controllers sit on v1 and only an empty v2 tree is mounted.
 */
import { existsSync, readFileSync, rmdirSync, statfsSync } from 'node:fs';

/** statfs f_type of cgroup2fs (linux/magic.h CGROUP2_SUPER_MAGIC). */
const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupInfo {
  mode: 'unified' | 'legacy';
  /** Controllers a container's limits can use (e.g. memory, pids, cpu). */
  controllers: Set<string>;
  /** Whether memory+swap can be limited (v1: memory.memsw.*; v2: memory.swap.max). */
  swap: boolean;
}

export function detectCgroup(root = '/sys/fs/cgroup'): CgroupInfo {
  let unified = false;
  try {
    unified =
      existsSync(`${root}/cgroup.controllers`) && statfsSync(root).type === CGROUP2_SUPER_MAGIC;
  } catch {
    unified = false;
  }
  if (unified) {
    const controllers = new Set(
      readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean),
    );
    return { mode: 'unified', controllers, swap: controllers.has('memory') };
  }
  const controllers = new Set<string>();
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // "... - cgroup cgroup rw,memory" : the super options after the separator name controllers.
      const [, after] = line.split(' - ');
      const [fstype, , superOpts = ''] = (after ?? '').split(' ');
      if (fstype !== 'cgroup') continue;
      for (const o of superOpts.split(',')) {
        if (o !== 'rw' && o !== 'ro' && !o.includes('=')) controllers.add(o);
      }
    }
  } catch {
    // no /proc: no controllers known
  }
  const swap = existsSync(`${root}/memory/memory.memsw.limit_in_bytes`);
  return { mode: 'legacy', controllers, swap };
}

/**
 * Where a container's cgroup goes (the spec's cgroupsPath) and how its OOM kills are read
 * after its run. On v2 the runtime's cgroup sits one level below a per-container parent that
 * berthd removes itself: memory.events is hierarchical there, so the parent still counts the
 * kills once the runtime (crun has no `run --keep` before 1.9) removed the container's own
 * cgroup. On v1 the count is per cgroup only; it survives only with `run --keep`.
 */
export interface ContainerCgroup {
  /** The spec's linux.cgroupsPath. */
  specPath: string;
  /** Whether the OOM count needs the runtime to keep the stopped container (`run --keep`). */
  needsKeep(memoryLimited: boolean): boolean;
  /** OOM kills the kernel counted for the container's run; 0 when unknown. */
  oomKills(): number;
  /** Removes what of the cgroup the runtime leaves behind (after its delete); idempotent. */
  release(): void;
}

export function containerCgroup(
  id: string,
  info: CgroupInfo,
  root = '/sys/fs/cgroup',
): ContainerCgroup {
  const readCount = (file: string): number => {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0; // no memory controller, or the cgroup is gone
    }
  };
  if (info.mode === 'unified') {
    const parent = `${root}/berth/${id}`;
    return {
      specPath: `/berth/${id}/ctr`,
      needsKeep: () => false,
      oomKills: () => readCount(`${parent}/memory.events`),
      release: () => {
        try {
          rmdirSync(parent);
        } catch {
          // gone already; or the runtime's cgroup is still there (its delete failed)
        }
      },
    };
  }
  return {
    specPath: `/berth/${id}`,
    // Docker on v1 reports OOMKilled only for a container's own limit, as here.
    needsKeep: (memoryLimited) => memoryLimited,
    oomKills: () => readCount(`${root}/memory/berth/${id}/memory.oom_control`),
    release: () => undefined,
  };
}
