/**
 * The built daemon (`dist/cli/berthd.js`) as a child process on a private unix socket, with
 * its data and exec roots in a temp dir. Pass `dataRoot` to restart on an existing store.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk, spawnDaemon, stopChild, tempDir, waitFor, type Daemon } from './process.js';
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

/**
 * Spawns the daemon on `socket` with these roots and `args` after them, and waits until it
 * answers `GET /_ping`; if it does not (or exits first), kills it and throws with its output.
 */
export async function spawnBerthd(o: {
  socket: string;
  dataRoot: string;
  execRoot: string;
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<Daemon> {
  const { child, output } = spawnDaemon(
    process.execPath,
    [
      BERTHD_JS,
      '-H',
      `unix://${o.socket}`,
      '--data-root',
      o.dataRoot,
      '--exec-root',
      o.execRoot,
      ...(o.args ?? []),
    ],
    { env: o.env, maxOutput: 4_000_000 },
  );
  const exited = () =>
    child.exitCode === null && child.signalCode === null
      ? undefined
      : `berthd exited (${child.exitCode ?? child.signalCode}):\n${output().trim()}`;
  try {
    await waitFor(
      `berthd on ${o.socket}`,
      async () => (await socketRequest(o.socket, '/_ping', { timeoutMs: 1000 })).body === 'OK',
      { timeoutMs: o.timeoutMs ?? 20_000, giveUp: exited },
    );
  } catch (e) {
    await stopChild(child, 'SIGKILL');
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${why}\n--- berthd output ---\n${output()}`);
  }
  return { child, output };
}

export async function startBerthd(opts: StartBerthdOptions = {}): Promise<Berthd> {
  const tmp = tempDir('berthd');
  const socket = join(tmp.path, 'berth.sock');
  const execRoot = join(tmp.path, 'exec');
  const ownData = opts.dataRoot === undefined || opts.ownDataRoot === true;
  const dataRoot = opts.dataRoot ?? tempDir('berthd-data').path;
  mkdirSync(dataRoot, { recursive: true });
  const cleanup = async (keepData: boolean) => {
    await unmountUnder(tmp.path);
    await unmountUnder(dataRoot);
    tmp.remove();
    if (ownData && !keepData) rmSync(dataRoot, { recursive: true, force: true });
  };
  let daemon: Daemon;
  try {
    daemon = await spawnBerthd({
      socket,
      dataRoot,
      execRoot,
      args: opts.extraArgs,
      env: opts.env,
      timeoutMs: opts.startTimeoutMs,
    });
  } catch (e) {
    await cleanup(false);
    throw e;
  }
  const { child } = daemon;
  return {
    socket,
    dockerHost: `unix://${socket}`,
    dataRoot,
    execRoot,
    pid: child.pid ?? -1,
    logs: daemon.output,
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
