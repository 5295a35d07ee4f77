/**
 * A lock file holding its owner's pid, so processes that need the same image (parallel test
 * files, `npm run vm-image` beside a test) build it once: one builds, the others wait and then
 * find it in the cache. A lock left by a dead process is taken over; every wait is bounded.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  /** How long to wait for another holder before giving up (default 20 min: a cold build). */
  timeoutMs?: number;
  pollMs?: number;
  /** A lock older than this is stale even if its pid is alive (pids are reused). */
  staleAfterMs?: number;
  /** Told once, when the lock is held by another process. */
  onWait?: (holderPid: number) => void;
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** The lock's pid and age, or undefined when there is no lock file. */
function readLock(path: string): { pid: number; ageMs: number } | undefined {
  try {
    const ageMs = Date.now() - statSync(path).mtimeMs;
    return { pid: Number.parseInt(readFileSync(path, 'utf8'), 10), ageMs };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function tryCreate(path: string): boolean {
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw e;
  }
}

/**
 * Removes a stale lock. Takers go one at a time (a guard file), and each removes the lock only
 * if it still names the dead pid it saw: a lock another taker made meanwhile is left alone.
 */
function removeStale(path: string, seenPid: number, staleAfterMs: number): void {
  const guard = `${path}.takeover`;
  if (!tryCreate(guard)) {
    // A taker that died inside these few lines would block everyone; its guard ages out.
    const g = readLock(guard);
    if (g && (g.ageMs > 10_000 || !pidAlive(g.pid))) rmSync(guard, { force: true });
    return;
  }
  try {
    const now = readLock(path);
    if (now && (now.pid === seenPid || Number.isNaN(now.pid)) && isStale(now, staleAfterMs))
      rmSync(path, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

function isStale(lock: { pid: number; ageMs: number }, staleAfterMs: number): boolean {
  // A lock file without a pid yet is a creator between open and write: give it a moment.
  if (Number.isNaN(lock.pid)) return lock.ageMs > 5_000;
  return !pidAlive(lock.pid) || lock.ageMs > staleAfterMs;
}

/** Runs `fn` holding the lock file at `path`; waits (bounded) while another process holds it. */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: FileLockOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20 * 60_000;
  const pollMs = opts.pollMs ?? 250;
  const staleAfterMs = opts.staleAfterMs ?? 60 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  while (!tryCreate(path)) {
    const holder = readLock(path);
    if (!holder) continue;
    const stale = isStale(holder, staleAfterMs);
    if (stale) removeStale(path, holder.pid, staleAfterMs);
    else if (!told) {
      told = true;
      opts.onWait?.(holder.pid);
    }
    if (Date.now() >= deadline)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for pid ${holder.pid} to release ${path}`,
      );
    // A stale lock is gone (or being taken over) at once: retry soon.
    await sleep(stale ? Math.min(pollMs, 20) : pollMs);
  }
  try {
    return await fn();
  } finally {
    // Only our own lock: a taker may have judged it stale and replaced it.
    if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
  }
}
