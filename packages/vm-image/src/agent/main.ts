/**
 * The agent service (service.ts): reads the host's config, serves SSH, mounts shares, and
 * announces readiness on the serial console once berthd (the engine service, started beside it)
 * listens.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { release, uptime } from 'node:os';
import { execFile } from 'node:child_process';
import { z } from 'zod';
import { loadGuestConfig } from './config.js';
import { log, stage } from './console.js';
import { PortWatcher } from './ports.js';
import { AGENT_PORT, ENGINE_SOCKET } from './protocol.js';
import { startAgentServer } from './server.js';
import { markReady, readyFile, runService, waitForFile, type ServiceOptions } from './service.js';
import { mountShares } from './shares.js';

const ENGINE_READY_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 5_000;

function imageId(): string {
  try {
    return readFileSync('/etc/berth/image', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export interface AgentOptions extends ServiceOptions {
  /** Runs once berthd listens, with the image's ID (e.g. to snapshot the services). */
  afterReady?: (image: string) => void;
}

async function main(opts: AgentOptions): Promise<void> {
  // As berthd does (berthd-main.ts): no parser compiled per schema at start-up.
  z.config({ jitless: true });
  const config = loadGuestConfig();
  stage('config');
  // The host connects as soon as this listens: its handshake overlaps berthd's start-up.
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
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
    ports.stop();
    await server.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());

  execFile('/bin/busybox', ['hostname', config.hostname], (err) => {
    if (err) log('could not set the hostname');
  });
  appendFileSync('/etc/hosts', `${config.hostAddress}\thost.docker.internal host.berth.internal\n`);
  const shareErrors = await mountShares(config.shares);
  for (const e of shareErrors) log(e);
  stage('shares', shareErrors.length ? `${shareErrors.length} failed` : `${config.shares.length}`);
  stage('engine');

  // The engine service says when berthd listens (engine-main.ts).
  if (!(await waitForFile(readyFile('engine'), ENGINE_READY_TIMEOUT_MS)))
    throw new Error(`berthd did not start listening within ${ENGINE_READY_TIMEOUT_MS} ms`);
  ports.start();
  stage('ready', `${uptime().toFixed(2)}s`);
  markReady('agent', opts);
  opts.afterReady?.(imageId());
}

export function runAgent(opts: AgentOptions): void {
  runService('agent', opts, () => main(opts));
}
