/**
 * Transitions of a container's State (moby's container/state.go) and the human strings
 * `docker ps` shows ("Up 3 seconds", "Exited (0) 2 minutes ago"). A restarting or paused
 * container counts as Running, as in moby.
 */
import type { ContainerState } from './store.js';

/** Go's zero time as moby serialises it: "never". */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** RFC 3339 with nanoseconds, as Go prints time.Time (the last digits are zero here). */
export function nowRfc3339Nano(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}

export function setRunning(s: ContainerState, pid: number): void {
  Object.assign(s, {
    Status: 'running',
    Running: true,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: pid,
    ExitCode: 0,
    Error: '',
    StartedAt: nowRfc3339Nano(),
  });
}

export function setStopped(
  s: ContainerState,
  exit: { exitCode: number; error?: string; oomKilled?: boolean },
  at = Date.now(),
): void {
  Object.assign(s, {
    Status: 'exited',
    Running: false,
    Paused: false,
    Restarting: false,
    Pid: 0,
    ExitCode: exit.exitCode,
    Error: exit.error ?? '',
    OOMKilled: exit.oomKilled ?? false,
    FinishedAt: nowRfc3339Nano(at),
  });
}

/** Waiting for the restart policy's next attempt: still "Running" in moby's terms. */
export function setRestarting(s: ContainerState): void {
  Object.assign(s, { Status: 'restarting', Running: true, Restarting: true, Paused: false });
}

export function setPaused(s: ContainerState, paused: boolean): void {
  s.Paused = paused;
  s.Status = paused ? 'paused' : 'running';
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

const since = (t: string, now: number): number => Math.max(0, now - Date.parse(t));

/** moby's State.String(): the Status column of `docker ps`. */
export function statusText(s: ContainerState, now = Date.now()): string {
  if (s.Running) {
    if (s.Paused) return `Up ${humanDuration(since(s.StartedAt, now))} (Paused)`;
    if (s.Restarting) {
      return `Restarting (${s.ExitCode}) ${humanDuration(since(s.FinishedAt, now))} ago`;
    }
    return `Up ${humanDuration(since(s.StartedAt, now))}`;
  }
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Dead) return 'Dead';
  if (s.StartedAt === ZERO_TIME) return 'Created';
  if (s.FinishedAt === ZERO_TIME) return '';
  return `Exited (${s.ExitCode}) ${humanDuration(since(s.FinishedAt, now))} ago`;
}
