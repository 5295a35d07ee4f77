/**
 * The guest agent (run by busybox init through agent.sh, from cli.ts or from a V8 startup
 * snapshot, see snapshot-build.ts): reads the host's config, starts berthd in this same process,
 * mounts shares, serves SSH, and announces readiness on the serial console once berthd answers
 * /_ping.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { release, uptime } from 'node:os';
import { execFile } from 'node:child_process';
import * as nodeModule from 'node:module';
import { z } from 'zod';
import { loadGuestConfig } from './config.js';
import { log, stage } from './console.js';
import { waitForFile } from './engine.js';
import { AGENT_PORT, ENGINE_SOCKET, GUEST_DATA_ROOT } from './protocol.js';
import { mountShares } from './shares.js';

/** rcS loads berthd's kernel modules in the background and touches this file when done. */
const MODULES_LOADED = '/run/berth/modules-loaded';
const MODULES_TIMEOUT_MS = 120_000;
const ENGINE_READY_TIMEOUT_MS = 300_000;
const ENGINE_STOP_GRACE_MS = 10_000;

function imageId(): string {
  try {
    return readFileSync('/etc/berth/image', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export interface AgentOptions {
  /** Starts berthd in this process with these flags; resolves once its API listens. */
  startEngine: (args: string[]) => Promise<void>;
  /** How this process was started, for the log (`bundle`, `snapshot`). */
  startedFrom: string;
  /** Runs once berthd answered /_ping, with the image's ID (e.g. to snapshot the agent). */
  afterReady?: (image: string) => void;
}

async function main(opts: AgentOptions): Promise<void> {
  // As berthd does (berthd-main.ts): no parser compiled per schema at start-up.
  z.config({ jitless: true });
  writeFileSync('/run/berth/agent.pid', `${process.pid}\n`);
  log(
    `agent started from its ${opts.startedFrom}: guest uptime ${uptime()} s, ` +
      `Node up ${process.uptime().toFixed(2)} s`,
  );
  const config = loadGuestConfig();
  stage('config');
  const args = [
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
  // The SSH server first, so that the host's handshake overlaps berthd's start instead of
  // following it. From the bundle, evaluating ssh2 costs more than half a second under
  // emulation; a startup snapshot holds it already.
  const [{ PortWatcher }, { startAgentServer }] = await Promise.all([
    import('./ports.js'),
    import('./server.js'),
  ]);
  const ports = new PortWatcher(ENGINE_SOCKET);
  const server = await startAgentServer({
    hostKey: config.hostKey,
    authorizedKeys: config.authorizedKeys,
    engineSocket: ENGINE_SOCKET,
    ports,
    port: AGENT_PORT,
    hello: () => ({ image: imageId(), kernel: release(), uptime: uptime() }),
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TERM: 'xterm', LANG: 'C.UTF-8' },
  });
  stage('agent', `port ${server.port}`);

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    ports.stop();
    await server.close().catch(() => undefined);
    // berthd's own SIGTERM handler stops its containers and exits the process; bounded here.
    setTimeout(() => process.exit(0), ENGINE_STOP_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());

  if (!(await waitForFile(MODULES_LOADED, MODULES_TIMEOUT_MS)))
    log(`${MODULES_LOADED} did not appear in ${MODULES_TIMEOUT_MS} ms; starting berthd anyway`);
  // berthd runs in this process: a second Node costs a second start-up (most of the boot under
  // emulation) and its own heap. The rest below runs while it opens its stores.
  // The image has no git: berthd would spawn it for its build info (a fork costs here).
  process.env.BERTH_GIT_COMMIT ??= 'unknown';
  const listening = opts.startEngine(args);
  // Awaited below; a failure must not count as unhandled meanwhile.
  listening.catch(() => undefined);

  execFile('/bin/busybox', ['hostname', config.hostname], (err) => {
    if (err) log('could not set the hostname');
  });
  appendFileSync('/etc/hosts', `${config.hostAddress}\thost.docker.internal host.berth.internal\n`);
  const shareErrors = await mountShares(config.shares);
  for (const e of shareErrors) log(e);
  stage('shares', shareErrors.length ? `${shareErrors.length} failed` : `${config.shares.length}`);
  stage('engine');

  // berthd says when it listens: no HTTP client here, whose first use costs the boot ~0.3 s
  // under emulation.
  await withTimeout(listening, ENGINE_READY_TIMEOUT_MS, 'berthd did not start listening');
  ports.start();
  stage('ready', `${uptime().toFixed(2)}s`);
  // Node writes its compile cache (NODE_COMPILE_CACHE, see agent.sh) only at exit, which a
  // killed VM never reaches: write it now, so the next boot starts the agent from it.
  (nodeModule as unknown as { flushCompileCache?: () => void }).flushCompileCache?.();
  // agent.sh reads this: a start from a startup snapshot that got here worked.
  writeFileSync('/run/berth/agent-ready', `${opts.startedFrom}\n`);
  opts.afterReady?.(imageId());
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function runAgent(opts: AgentOptions): void {
  main(opts).catch((err: unknown) => {
    stage('failed', `agent: ${(err as Error).message}`);
    log((err as Error).stack ?? String(err));
    // busybox init respawns the agent at once; do not spin.
    setTimeout(() => process.exit(1), 5_000);
  });
}
