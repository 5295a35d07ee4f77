/**
 * What the host's cgroup hierarchy offers, read (never configured) from /sys/fs/cgroup and
 * /proc/self/mountinfo. "unified" means pure cgroup v2 (crun's home); "legacy" covers both v1
 * and the hybrid layout where controllers sit on v1 and only an empty v2 tree is mounted.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';

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
