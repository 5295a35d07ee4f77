/** Boot stage lines on the serial console, where the host reads them. */
import { appendFileSync } from 'node:fs';
import { BOOT_STAGE_PREFIX, type BootStage } from './protocol.js';

export function stage(name: BootStage | 'failed', detail = ''): void {
  const line = `${BOOT_STAGE_PREFIX}${name}${detail ? ` ${detail}` : ''}\n`;
  try {
    appendFileSync('/dev/console', line);
  } catch {
    process.stdout.write(line);
  }
}

export function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}
