/**
 * virtiofs shares for QEMU: one virtiofsd per shared folder, serving it on a vhost-user socket
 * that QEMU connects to at start. virtiofsd runs in its own session like the daemonized QEMU,
 * so the guest's shares outlive the host process that started them; it exits by itself when
 * QEMU disconnects, and stop() kills whatever is left by pid file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { livePid, terminate } from '../../util/process.js';
import { waitUntil } from '../../util/wait.js';

/** Where distributions put virtiofsd: the Rust one (libexec), QEMU ≤ 7.2's own (lib/qemu). */
const CANDIDATES = ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd', '/usr/bin/virtiofsd'];

/**
 * The virtiofsd to use, or undefined for 9p: $BERTH_VIRTIOFSD (empty: never), else the first
 * installed one. It needs root (its sandbox is namespaces + pivot_root into the share).
 */
export function findVirtiofsd(
  env: NodeJS.ProcessEnv = process.env,
  isRoot = process.getuid?.() === 0,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  if (!isRoot || process.platform !== 'linux') return undefined;
  const pinned = env.BERTH_VIRTIOFSD;
  if (pinned !== undefined) return pinned !== '' && exists(pinned) ? pinned : undefined;
  return CANDIDATES.find((c) => exists(c));
}

export interface VirtiofsdShare {
  tag: string;
  hostPath: string;
}

/** The files of one share's daemon in the machine's run directory. */
export function virtiofsdFiles(runDir: string, tag: string) {
  return {
    socket: join(runDir, `virtiofs-${tag}.sock`),
    pid: join(runDir, `virtiofsd-${tag}.pid`),
    log: join(runDir, `virtiofsd-${tag}.log`),
  };
}

/** Both virtiofsd implementations take these (the Rust one as compatibility options). */
export function virtiofsdArgs(socket: string, hostPath: string): string[] {
  return [`--socket-path=${socket}`, '-o', `source=${hostPath}`, '-o', 'cache=auto'];
}

/** Starts one virtiofsd per share and waits (bounded) for each socket; returns their pids. */
export async function startVirtiofsd(
  binary: string,
  runDir: string,
  shares: readonly VirtiofsdShare[],
  timeoutMs = 15_000,
): Promise<number[]> {
  const pids: number[] = [];
  try {
    for (const share of shares) {
      const files = virtiofsdFiles(runDir, share.tag);
      rmSync(files.socket, { force: true });
      const log = openSync(files.log, 'w');
      let pid: number | undefined;
      let exited: string | undefined;
      try {
        const child = spawn(binary, virtiofsdArgs(files.socket, share.hostPath), {
          detached: true,
          stdio: ['ignore', log, log],
        });
        child.once('error', (e) => (exited = e.message));
        child.once('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
        child.unref();
        pid = child.pid;
      } finally {
        closeSync(log);
      }
      if (pid === undefined) throw new Error(`${binary} did not start: ${exited ?? ''}`);
      pids.push(pid);
      writeFileSync(files.pid, `${pid}\n`);
      await waitUntil(`virtiofsd for ${share.hostPath} to listen`, () => existsSync(files.socket), {
        timeoutMs,
        intervalMs: 50,
        giveUp: () => (exited ? `virtiofsd ${exited}; see ${files.log}` : undefined),
      });
    }
  } catch (e) {
    await Promise.all(pids.map((p) => terminate(p, 1000)));
    throw e;
  }
  return pids;
}

/** Ends every virtiofsd this machine's run directory records, and removes its files. */
export async function stopVirtiofsd(runDir: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return;
  }
  const daemons = names.filter((n) => /^virtiofsd-.*\.pid$/.test(n));
  await Promise.all(
    daemons.map(async (n) => {
      const pid = livePid(join(runDir, n), 'virtiofsd');
      if (pid !== undefined) await terminate(pid, 2000);
      rmSync(join(runDir, n), { force: true });
    }),
  );
  for (const n of names.filter((n) => /^virtiofs-.*\.sock$/.test(n)))
    rmSync(join(runDir, n), { force: true });
}
