/**
 * Exit statuses of container processes. `runc create` forks the container's init and exits,
 * so the init is nobody's child — its exit code would be lost. Making this process a *child
 * subreaper* (prctl PR_SET_CHILD_SUBREAPER) reparents such orphans to us, and we collect
 * them with waitpid(pid, WNOHANG) — one pid at a time, so children that Node's own
 * child_process (libuv, which also waits per pid) started are never stolen.
 *
 * Contract: becomeSubreaper() must run before the runtime that forks the process exits;
 * watchExit() must be called for every pid reparented here, or it stays a zombie.
 */
import { isErrnoError, PR, prctl, waitpid, WNOHANG } from '../os/libc.js';

const POLL_MS = 25;

export interface ExitStatus {
  /** Docker's exit code: the status, or 128 + signal number when killed by a signal. */
  exitCode: number;
  /** The signal number that ended the process, if any. */
  signal?: number;
}

let subreaper = false;

/** Makes this process the reaper of orphaned descendants (idempotent; Linux only). */
export function becomeSubreaper(): void {
  if (subreaper) return;
  prctl(PR.SET_CHILD_SUBREAPER, 1);
  subreaper = true;
}

export function decodeWaitStatus(status: number): ExitStatus {
  const termsig = status & 0x7f;
  if (termsig === 0) return { exitCode: (status >> 8) & 0xff };
  return { exitCode: 128 + termsig, signal: termsig };
}

const watched = new Map<number, Array<(s: ExitStatus | undefined) => void>>();
let timer: NodeJS.Timeout | undefined;

function poll(): void {
  for (const [pid, waiters] of watched) {
    let r: { pid: number; status: number } | undefined;
    try {
      r = waitpid(pid, WNOHANG);
    } catch (err) {
      // ECHILD: not our child — reaped elsewhere or never reparented here.
      if (!isErrnoError(err)) throw err;
    }
    if (r?.pid === 0) continue;
    watched.delete(pid);
    const result = r?.pid === pid ? decodeWaitStatus(r.status) : undefined;
    for (const w of waiters) w(result);
  }
  if (watched.size === 0 && timer) {
    clearInterval(timer);
    timer = undefined;
  }
}

/**
 * Resolves with the exit status of `pid` (a process reparented to this subreaper or a
 * child not spawned through child_process), or undefined when it is not our child.
 */
export function watchExit(pid: number): Promise<ExitStatus | undefined> {
  return new Promise((resolve) => {
    const waiters = watched.get(pid) ?? [];
    waiters.push(resolve);
    watched.set(pid, waiters);
    timer ??= setInterval(poll, POLL_MS);
    poll();
  });
}
