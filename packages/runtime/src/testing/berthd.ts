/**
 * The built daemon (`dist/cli/berthd.js`) as a child process on a private unix socket, with
 * its data and exec roots in a temp dir. Pass `dataRoot` to restart on an existing store.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, stopChild, tempDir, trackDaemon, waitFor } from './process.js';
import { socketRequest } from './socket-http.js';

export const BERTHD_JS = fileURLToPath(new URL('../cli/berthd.js', import.meta.url));

export interface StartBerthdOptions {
  /** Reuse a data root (e.g. after a kill); it is left in place on stop unless `ownDataRoot`. */
  dataRoot?: string;
  /** Remove a passed-in `dataRoot` on stop(), as if this daemon had made it. */
  ownDataRoot?: boolean;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Milliseconds to wait for `GET /_ping`. */
  startTimeoutMs?: number;
}

export interface Berthd {
  socket: string;
  /** `unix:///…/berth.sock`, for DOCKER_HOST. */
  dockerHost: string;
  dataRoot: string;
  execRoot: string;
  pid: number;
  /**
   * Graceful stop (default SIGTERM, SIGKILL after 15 s); removes the socket and exec dirs, and
   * the data root when this daemon owns it and `keepData` is not set.
   */
  stop(signal?: NodeJS.Signals, opts?: { keepData?: boolean }): Promise<void>;
  /**
   * SIGKILL, then the same cleanup as stop() with `keepData`: for crash-recovery tests, which
   * restart on `dataRoot` with `ownDataRoot: true` so the next daemon removes it.
   */
  kill(): Promise<void>;
  /** Everything the daemon wrote to stdout and stderr so far. */
  logs(): string;
}

/** Lazily unmounts every mount under `dir` (deepest first), so a crashed daemon's overlays
 * do not keep the temp dir busy or make `rm -r` walk into them. */
export async function unmountUnder(dir: string): Promise<void> {
  let mountinfo: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .map((p) => p.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
  for (const p of points)
    await runOk('umount', ['-l', p], { timeoutMs: 10_000 }).catch(() => undefined);
}

export async function startBerthd(opts: StartBerthdOptions = {}): Promise<Berthd> {
  const tmp = tempDir('berthd');
  const socket = join(tmp.path, 'berth.sock');
  const execRoot = join(tmp.path, 'exec');
  const ownData = opts.dataRoot === undefined || opts.ownDataRoot === true;
  const dataRoot = opts.dataRoot ?? tempDir('berthd-data').path;
  mkdirSync(dataRoot, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      BERTHD_JS,
      '-H',
      `unix://${socket}`,
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env },
  );
  trackDaemon(child);
  let output = '';
  const collect = (b: Buffer) => {
    if (output.length < 4_000_000) output += b.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = () =>
    child.exitCode === null && child.signalCode === null
      ? undefined
      : `berthd exited (${child.exitCode ?? child.signalCode}):\n${output.trim()}`;

  const cleanup = async (keepData: boolean) => {
    await unmountUnder(tmp.path);
    await unmountUnder(dataRoot);
    tmp.remove();
    if (ownData && !keepData) rmSync(dataRoot, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `berthd on ${socket}`,
      async () => (await socketRequest(socket, '/_ping', { timeoutMs: 1000 })).body === 'OK',
      { timeoutMs: opts.startTimeoutMs ?? 20_000, giveUp: exited },
    );
  } catch (e) {
    await stopChild(child, 'SIGKILL');
    await cleanup(false);
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${why}\n--- berthd output ---\n${output}`);
  }
  return {
    socket,
    dockerHost: `unix://${socket}`,
    dataRoot,
    execRoot,
    pid: child.pid ?? -1,
    logs: () => output,
    stop: async (signal = 'SIGTERM', { keepData = false } = {}) => {
      await stopChild(child, signal, 15_000);
      await cleanup(keepData);
    },
    kill: async () => {
      await stopChild(child, 'SIGKILL');
      await cleanup(true);
    },
  };
}
