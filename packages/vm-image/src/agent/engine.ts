/** berthd under the agent's supervision, and small HTTP helpers for its unix socket. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { log } from './console.js';

export interface EngineSupervisor {
  /** Stops berthd (SIGTERM, then SIGKILL after the grace period) and stops respawning. */
  stop(graceMs?: number): Promise<void>;
}

const RESPAWN_MIN_MS = 500;
const RESPAWN_MAX_MS = 30_000;
const ADOPTED_POLL_MS = 250;

/** True while `pid` runs (a zombie does not: it will never answer again). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Runs berthd and restarts it when it exits. `adopt` is the pid of a berthd that agent.sh
 * already started with the same arguments (so it boots beside the agent's own Node): it is
 * watched until it exits, then replaced by a child of this process.
 */
export function superviseEngine(
  command: string,
  args: string[],
  logFile: string,
  adopt?: number,
): EngineSupervisor {
  let child: ChildProcess | undefined;
  let adopted = adopt;
  let stopping = false;
  let delay = RESPAWN_MIN_MS;
  const exited = (startedAt: number, why: string): void => {
    if (stopping) return;
    // A daemon that ran for a while earns a quick restart; a crash loop backs off.
    delay = Date.now() - startedAt > 60_000 ? RESPAWN_MIN_MS : Math.min(delay * 2, RESPAWN_MAX_MS);
    log(`berthd exited (${why}); restarting in ${delay} ms`);
    setTimeout(start, delay).unref();
  };
  const start = (): void => {
    const out = openSync(logFile, 'a');
    const startedAt = Date.now();
    child = spawn(command, args, { stdio: ['ignore', out, out], env: process.env });
    child.on('exit', (code, signal) => {
      child = undefined;
      exited(startedAt, String(code ?? signal));
    });
  };
  if (adopted !== undefined) {
    const startedAt = Date.now();
    const watch = setInterval(() => {
      if (adopted === undefined || processAlive(adopted)) return;
      clearInterval(watch);
      adopted = undefined;
      exited(startedAt, 'the copy agent.sh started');
    }, ADOPTED_POLL_MS);
    watch.unref();
  } else start();
  return {
    async stop(graceMs = 10_000) {
      stopping = true;
      const pid = adopted;
      if (pid !== undefined) {
        signal(pid, 'SIGTERM');
        const deadline = Date.now() + graceMs;
        while (processAlive(pid) && Date.now() < deadline) await sleep(100);
        if (processAlive(pid)) signal(pid, 'SIGKILL');
        return;
      }
      const c = child;
      if (!c || c.exitCode !== null) return;
      const done = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
      await done;
      clearTimeout(timer);
    },
  };
}

export function engineGet(
  socketPath: string,
  path: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Opens a streaming GET (e.g. /events); the caller reads and destroys the response. */
export function engineStream(socketPath: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      if (res.statusCode === 200) resolve(res);
      else {
        res.resume();
        reject(new Error(`GET ${path}: status ${res.statusCode}`));
      }
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once berthd answers /_ping with OK; rejects after timeoutMs. */
export async function waitForEngine(socketPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await engineGet(socketPath, '/_ping', 2_000);
      if (r.status === 200 && r.body === 'OK') return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`berthd did not answer /_ping within ${timeoutMs} ms`);
    await sleep(100);
  }
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
