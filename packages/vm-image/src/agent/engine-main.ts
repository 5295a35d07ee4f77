/**
 * The engine service: berthd, in a Node process of its own beside the agent's. init starts both
 * at once (service.ts), so with the VM's two vCPUs their start-ups overlap, and the host's SSH
 * handshake with the agent runs while berthd opens its stores. berthd's flags come from the
 * machine's config; it starts once rcS loaded its kernel modules.
 */
import { rmSync } from 'node:fs';
import { runBerthd } from '@berth/runtime/cli/berthd-main.js';
import { loadGuestConfig } from './config.js';
import { log } from './console.js';
import { ENGINE_SOCKET, GUEST_DATA_ROOT, type ParsedGuestConfig } from './protocol.js';
import { markReady, readyFile, runService, waitForFile, type ServiceOptions } from './service.js';

/** rcS loads berthd's kernel modules in the background and touches this file when done. */
const MODULES_LOADED = '/run/berth/modules-loaded';
const MODULES_TIMEOUT_MS = 120_000;

export function berthdArgs(config: ParsedGuestConfig): string[] {
  return [
    '-H',
    `unix://${ENGINE_SOCKET}`,
    '--data-root',
    GUEST_DATA_ROOT,
    // host.docker.internal and --add-host …:host-gateway in containers reach the user's host.
    '--host-gateway-ip',
    config.hostAddress,
    // Ports published without an address listen on the guest's own address too, where QEMU's
    // hostfwd delivers; the guest is reachable only through the host's chosen bind address.
    '--ip',
    '0.0.0.0',
    ...config.insecureRegistries.flatMap((r) => ['--insecure-registry', r]),
  ];
}

export function runEngine(opts: ServiceOptions): void {
  runService('engine', opts, async () => {
    rmSync(readyFile('engine'), { force: true });
    const args = berthdArgs(loadGuestConfig());
    if (!(await waitForFile(MODULES_LOADED, MODULES_TIMEOUT_MS)))
      log(`${MODULES_LOADED} did not appear in ${MODULES_TIMEOUT_MS} ms; starting berthd anyway`);
    // The image has no git: berthd would spawn it for its build info (a fork costs here).
    process.env.BERTH_GIT_COMMIT ??= 'unknown';
    process.argv = [process.execPath, 'berthd', ...args];
    // berthd's signal handlers stop it and end the process; a failed start ends it too.
    await runBerthd(args);
    markReady('engine', opts);
  });
}
