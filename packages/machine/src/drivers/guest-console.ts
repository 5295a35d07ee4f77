/** What every driver reads from the guest's console log (the serial log in MachinePaths). */
import { readFileSync } from 'node:fs';
import { BOOT_STAGE_PREFIX } from '@berth/vm-image/protocol';
import { waitUntil } from '../util/wait.js';

/** A file's text; '' while it does not exist (a console log before the VM writes to it). */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Waits until the console log at `serialLog` shows the guest runs: `pattern`, by default its
 * first boot stage line. Throws after `timeoutMs`, or at once when `giveUp` gives a reason.
 */
export async function waitForSignOfLife(
  serialLog: string,
  opts: {
    timeoutMs: number;
    intervalMs: number;
    /** Default `the guest`, as in "the guest to show life on its console". */
    guest?: string;
    pattern?: RegExp;
    giveUp?: () => string | undefined;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { pattern } = opts;
  const stage = BOOT_STAGE_PREFIX.trim();
  await waitUntil(
    `${opts.guest ?? 'the guest'} to show life on its console`,
    () => {
      const text = readText(serialLog);
      return pattern ? pattern.test(text) : text.includes(stage);
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: opts.intervalMs,
      ...(opts.giveUp ? { giveUp: opts.giveUp } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
}
