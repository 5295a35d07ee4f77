#!/usr/bin/env node
/**
 * The process that holds one VZ virtual machine: VZ machines live in the process that created
 * them, so the driver spawns this detached and finds it again by its pid file. SIGTERM asks the
 * guest to power off and forces it after a grace period.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { VzConfig } from './vz-config.js';
import { buildConfiguration, createMachine, pumpRunLoop } from './vz-objc.darwin.js';

const [configFile, pidFile] = process.argv.slice(2);
if (!configFile || !pidFile) {
  console.error('usage: vz-host <vz.json> <pid file>');
  process.exit(2);
}
// The file was written by this package's driver; the shape check guards against a stale one.
const config = z
  .looseObject({ cpuCount: z.number(), memorySize: z.number() })
  .parse(JSON.parse(readFileSync(configFile, 'utf8'))) as unknown as VzConfig;

const pump = pumpRunLoop();
const machine = createMachine(buildConfiguration(config));
const exit = (code: number) => {
  clearInterval(pump);
  rmSync(pidFile, { force: true });
  process.exit(code);
};

try {
  await machine.start();
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  exit(1);
}
writeFileSync(pidFile, `${process.pid}\n`);

const STOPPED = 0;
const ERROR = 3;
// The guest powering itself off ends this process too.
setInterval(() => {
  const state = machine.state();
  if (state === STOPPED || state === ERROR) exit(state === STOPPED ? 0 : 1);
}, 500);

process.on('SIGTERM', () => {
  machine.requestStop();
  setTimeout(() => {
    void machine.stop().finally(() => exit(0));
  }, 15_000).unref();
});
