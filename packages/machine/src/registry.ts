/** The drivers this host can run, by name (lima's driver registry). */
import type { DriverFactory } from './driver.js';
import { hypervDriver } from './drivers/hyperv/hyperv.win32.js';
import { qemuDriver } from './drivers/qemu/qemu.js';
import { vzDriver } from './drivers/vz/vz.darwin.js';

/** Every driver; each one's validate() says whether it can run here. */
export function defaultDrivers(): Record<string, DriverFactory> {
  return { qemu: qemuDriver(), vz: vzDriver(), hyperv: hypervDriver() };
}
