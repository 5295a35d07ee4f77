/** Bounded waiting: every loop in packages/machine ends by a deadline or an abort. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Calls `check` until it returns a value other than undefined/false, at most `timeoutMs`.
 * `giveUp` returning a message ends the wait early with that error.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: {
    timeoutMs: number;
    intervalMs?: number;
    signal?: AbortSignal;
    giveUp?: () => string | undefined;
  },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const v = await check();
    if (v !== undefined && v !== false) return v;
    const why = opts.giveUp?.();
    if (why) throw new Error(`${what}: ${why}`);
    if (Date.now() >= deadline)
      throw new TimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${what}`);
    await sleep(opts.intervalMs ?? 100, undefined, opts.signal ? { signal: opts.signal } : {});
  }
}
