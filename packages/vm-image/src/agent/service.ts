/**
 * What the guest's two Node services share. busybox init starts both at once through
 * guest/node-service.sh: the agent (main.ts) and the engine, berthd (engine-main.ts). Each runs
 * from its V8 startup snapshot when an earlier boot made one (snapshot-build.ts), else from its
 * bundle, and says when it got ready, which node-service.sh reads to drop a snapshot that fails.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { uptime } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { log, stage } from './console.js';

export type GuestService = 'agent' | 'engine';

export interface ServiceOptions {
  /** How this process was started, for the log (`bundle`, `snapshot`). */
  startedFrom: string;
}

/** Written once the service is ready (the engine: its API listens). */
export function readyFile(service: GuestService): string {
  return `/run/berth/${service}-ready`;
}

/** Runs a service's main; a failure is shown on the console and ends the process. */
export function runService(
  service: GuestService,
  opts: ServiceOptions,
  main: () => Promise<void>,
): void {
  // shutdown.sh stops the services by these.
  writeFileSync(`/run/berth/${service}.pid`, `${process.pid}\n`);
  log(
    `${service} started from its ${opts.startedFrom}: guest uptime ${uptime()} s, ` +
      `Node up ${process.uptime().toFixed(2)} s`,
  );
  main().catch((err: unknown) => {
    stage('failed', `${service}: ${(err as Error).message}`);
    log((err as Error).stack ?? String(err));
    // busybox init respawns the service at once; do not spin.
    setTimeout(() => process.exit(1), 5_000);
  });
}

export function markReady(service: GuestService, opts: ServiceOptions): void {
  // Node writes its compile cache (NODE_COMPILE_CACHE, see node-service.sh) only at exit, which a
  // killed VM never reaches: write it now, so the next boot starts from it.
  (nodeModule as unknown as { flushCompileCache?: () => void }).flushCompileCache?.();
  writeFileSync(readyFile(service), `${opts.startedFrom}\n`);
}

/** True once `path` exists, false when it did not appear within timeoutMs. */
export async function waitForFile(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
