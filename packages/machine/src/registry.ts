/** The drivers this host can run, by name (lima's driver registry). */
import type { DriverFactory } from './driver.js';
import { qemuDriver } from './drivers/qemu/qemu.js';

export function defaultDrivers(): Record<string, DriverFactory> {
  return { qemu: qemuDriver() };
}
