/** Files the drivers share. */
import { rmSync } from 'node:fs';
import type { MachinePaths } from '../paths.js';

/** What a driver's delete() removes once its guest is stopped: the data disk and console logs. */
export function removeGuestFiles(paths: MachinePaths): void {
  for (const f of [paths.dataDisk, paths.serialLog, `${paths.serialLog}.1`])
    rmSync(f, { force: true });
}
