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
import koffi from 'koffi';

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const POLL_MS = 25;

export interface ExitStatus {
  /** Docker's exit code: the status, or 128 + signal number when killed by a signal. */
  exitCode: number;
  /** The signal number that ended the process, if any. */
  signal?: number;
}

type Fn = (...args: unknown[]) => number;
let calls: { prctl: Fn; waitpid: Fn } | undefined;

function libc(): { prctl: Fn; waitpid: Fn } {
  if (calls) return calls;
  let lib;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    lib = koffi.load(null);
  }
  calls = {
    prctl: lib.func(
      'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
    ) as Fn,
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)') as Fn,
  };
  return calls;
}

let subreaper = false;

/** Makes this process the reaper of orphaned descendants (idempotent; Linux only). */
export function becomeSubreaper(): void {
  if (subreaper) return;
  if (libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) !== 0) {
    throw new Error(`prctl(PR_SET_CHILD_SUBREAPER) failed: errno ${koffi.errno()}`);
  }
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
  const { waitpid } = libc();
  for (const [pid, waiters] of watched) {
    const status = [0];
    const r = waitpid(pid, status, WNOHANG);
    if (r === 0) continue;
    watched.delete(pid);
    // r < 0 (ECHILD): not our child — reaped elsewhere or never reparented here.
    const result = r === pid ? decodeWaitStatus(status[0] ?? 0) : undefined;
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
