/**
 * The guest agent's entry point (run by busybox init through agent.sh): reads the host's
 * config, mounts shares, starts and supervises berthd, serves SSH, and announces readiness on
 * the serial console once berthd answers /_ping.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { release, uptime } from 'node:os';
import { execFileSync } from 'node:child_process';
import * as nodeModule from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadGuestConfig } from './config.js';
import { log, stage } from './console.js';
import { processAlive, superviseEngine, waitForEngine, waitForFile } from './engine.js';
import { AGENT_PORT, ENGINE_SOCKET, GUEST_DATA_ROOT } from './protocol.js';
import { mountShares } from './shares.js';

const BERTHD = '/usr/lib/berth/dist/cli/berthd.mjs';
/** rcS loads berthd's kernel modules in the background and touches this file when done. */
const MODULES_LOADED = '/run/berth/modules-loaded';
const MODULES_TIMEOUT_MS = 120_000;
/** Where agent.sh records the berthd it started early, and that berthd's arguments. */
const EARLY_ENGINE_PID = '/run/berth/berthd.pid';
const EARLY_ENGINE_ARGS = '/run/berth/berthd.args';
const ENGINE_READY_TIMEOUT_MS = 300_000;

function imageId(): string {
  try {
    return readFileSync('/etc/berth/image', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * The pid of the berthd agent.sh started from the same config (see agent.sh), when it runs
 * with exactly these arguments; a copy started with other arguments is stopped.
 */
async function earlyEngine(args: readonly string[]): Promise<number | undefined> {
  let pid: number;
  let earlyArgs: string;
  try {
    pid = Number(readFileSync(EARLY_ENGINE_PID, 'utf8').trim());
    earlyArgs = readFileSync(EARLY_ENGINE_ARGS, 'utf8');
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) return undefined;
  if (earlyArgs === `${args.join('\n')}\n`) return pid;
  log(`berthd from agent.sh runs with other arguments (${earlyArgs.trim()}); replacing it`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  for (let i = 0; i < 100 && processAlive(pid); i++) await sleep(50);
  return undefined;
}

async function main(): Promise<void> {
  writeFileSync('/run/berth/agent.pid', `${process.pid}\n`);
  log(`agent started: guest uptime ${uptime()} s, Node up ${process.uptime().toFixed(2)} s`);
  const config = loadGuestConfig();
  stage('config');
  try {
    execFileSync('/bin/busybox', ['hostname', config.hostname]);
  } catch {
    log('could not set the hostname');
  }
  appendFileSync('/etc/hosts', `${config.hostAddress}\thost.docker.internal host.berth.internal\n`);
  const shareErrors = await mountShares(config.shares);
  for (const e of shareErrors) log(e);
  stage('shares', shareErrors.length ? `${shareErrors.length} failed` : `${config.shares.length}`);

  const args = [
    BERTHD,
    '-H',
    `unix://${ENGINE_SOCKET}`,
    '--data-root',
    GUEST_DATA_ROOT,
    // host.docker.internal and --add-host …:host-gateway in containers reach the user's host.
    '--host-gateway-ip',
    config.hostAddress,
    ...config.insecureRegistries.flatMap((r) => ['--insecure-registry', r]),
  ];
  const early = await earlyEngine(args);
  if (early === undefined && !(await waitForFile(MODULES_LOADED, MODULES_TIMEOUT_MS)))
    log(`${MODULES_LOADED} did not appear in ${MODULES_TIMEOUT_MS} ms; starting berthd anyway`);
  const engine = superviseEngine(process.execPath, args, '/run/berth/berthd.out', early);
  if (early !== undefined) log(`berthd ${early}, started by agent.sh, adopted`);
  stage('engine');

  // ssh2 is loaded only now, so evaluating it does not hold up berthd's start.
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
    await engine.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());

  await waitForEngine(ENGINE_SOCKET, ENGINE_READY_TIMEOUT_MS);
  ports.start();
  stage('ready', `${uptime().toFixed(2)}s`);
  // Node writes its compile cache (NODE_COMPILE_CACHE, see agent.sh) only at exit, which a
  // killed VM never reaches: write it now, so the next boot starts the agent from it.
  (nodeModule as unknown as { flushCompileCache?: () => void }).flushCompileCache?.();
}

main().catch((err: unknown) => {
  stage('failed', `agent: ${(err as Error).message}`);
  log((err as Error).stack ?? String(err));
  // busybox init respawns the agent at once; do not spin.
  setTimeout(() => process.exit(1), 5_000);
});
