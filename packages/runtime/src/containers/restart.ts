/**
 * Restart policies (moby's restartmanager): `no`, `always`, `unless-stopped`,
 * `on-failure[:N]`. The delay before a restart starts at 100 ms and doubles up to a minute; a
 * run that lasted 10 s or more resets it. A manual stop cancels restarts until the next
 * manual start.
 */
import { InvalidParameterError } from '../api/errors.js';

export interface RestartPolicy {
  Name?: string | undefined;
  MaximumRetryCount?: number | undefined;
}

const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

/** moby's ValidateRestartPolicy, with its messages. */
export function validateRestartPolicy(
  policy: RestartPolicy | null | undefined,
  autoRemove: boolean,
): void {
  const name = policy?.Name ?? '';
  const max = policy?.MaximumRetryCount ?? 0;
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) {
    throw new InvalidParameterError(
      `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  if (max < 0) {
    throw new InvalidParameterError(
      'invalid restart policy: maximum retry count cannot be negative',
    );
  }
  if (max !== 0 && name !== 'on-failure') {
    throw new InvalidParameterError(
      `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
    );
  }
  if (autoRemove && name !== '' && name !== 'no') {
    throw new InvalidParameterError(`can't create 'AutoRemove' container with restart policy`);
  }
}

/** moby's Container.ShouldRestart at daemon start: was it meant to be running? */
export function restartOnDaemonStart(
  policy: RestartPolicy | null | undefined,
  state: { manuallyStopped: boolean; exitCode: number },
): boolean {
  switch (policy?.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !state.manuallyStopped;
    case 'on-failure':
      return state.exitCode !== 0;
    default:
      return false;
  }
}

/** One container's restart bookkeeping (kept in memory, as moby's is). */
export class RestartManager {
  private delay = 0;
  private canceled = false;
  /** Restarts by the policy since the last manual start (on-failure's retry count). */
  count = 0;

  constructor(public policy: RestartPolicy) {}

  /** The delay before restarting, or undefined for "stay stopped". */
  shouldRestart(exitCode: number, manuallyStopped: boolean, ranMs: number): number | undefined {
    if (this.canceled) return undefined;
    if (ranMs >= RESET_AFTER_MS) this.delay = 0;
    this.delay = this.delay === 0 ? BASE_DELAY_MS : Math.min(this.delay * 2, MAX_DELAY_MS);
    let restart = false;
    switch (this.policy.Name) {
      case 'always':
        restart = true;
        break;
      case 'unless-stopped':
        restart = !manuallyStopped;
        break;
      case 'on-failure': {
        const max = this.policy.MaximumRetryCount ?? 0;
        restart = exitCode !== 0 && (max === 0 || this.count < max);
        break;
      }
      default:
        restart = false;
    }
    if (!restart) return undefined;
    this.count++;
    return this.delay;
  }

  cancel(): void {
    this.canceled = true;
  }
}
