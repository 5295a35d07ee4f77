/**
 * Pure helpers of the VM bench: what /proc says about memory and CPU, and how a measurement
 * compares with its floor or peer.
 */

/** MemTotal − MemAvailable of a /proc/meminfo text, in KiB: what the guest really uses. */
export function usedMemoryKiB(meminfo: string): number {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(meminfo);
    if (!m) throw new Error(`/proc/meminfo has no ${name}`);
    return Number(m[1]);
  };
  return field('MemTotal') - field('MemAvailable');
}

/**
 * utime + stime of a /proc/<pid>/stat text, in clock ticks. The command name (field 2) may hold
 * spaces and parentheses, so fields are counted from the last ')'.
 */
export function cpuTicks(stat: string): number {
  const rest = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error('unreadable /proc/<pid>/stat');
  return utime + stime;
}

/** Percent of one core used between two cpuTicks() readings `wallMs` apart. */
export function cpuPercent(
  ticksBefore: number,
  ticksAfter: number,
  wallMs: number,
  ticksPerSecond = 100,
): number {
  if (wallMs <= 0) return 0;
  return ((ticksAfter - ticksBefore) / ticksPerSecond / (wallMs / 1000)) * 100;
}

export interface Verdict {
  ratio: number;
  target: number;
  /** `at-most`: the ratio must not exceed the target (times); `at-least`: not fall below (rates). */
  kind: 'at-most' | 'at-least';
  ok: boolean;
}

export function verdict(
  value: number,
  base: number,
  target: number,
  kind: Verdict['kind'],
): Verdict {
  const ratio = base > 0 ? value / base : Number.POSITIVE_INFINITY;
  return { ratio, target, kind, ok: kind === 'at-most' ? ratio <= target : ratio >= target };
}

export function verdictText(v: Verdict): string {
  const miss = v.kind === 'at-most' ? 'OVER TARGET' : 'BELOW TARGET';
  return `${v.ratio.toFixed(2)} (target ${v.kind === 'at-most' ? '≤' : '≥'} ${v.target}) ${v.ok ? 'OK' : miss}`;
}
