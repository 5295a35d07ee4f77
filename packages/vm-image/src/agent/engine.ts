/** berthd inside the agent's process, and small HTTP helpers for its unix socket. */
import { existsSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

/**
 * Runs berthd's bundle (`entry`, whose top level starts the daemon from process.argv and exports
 * `listening`) inside this process. Resolves once berthd's API listens; the daemon runs on this
 * event loop, and its signal handlers stop it and end the process.
 */
export async function startEngineInProcess(entry: string, args: readonly string[]): Promise<void> {
  process.argv = [process.execPath, entry, ...args];
  const berthd = (await import(pathToFileURL(entry).href)) as { listening?: Promise<void> };
  if (!(berthd.listening instanceof Promise)) throw new Error(`${entry} exports no listening`);
  await berthd.listening;
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

/** True once `path` exists, false when it did not appear within timeoutMs. */
export async function waitForFile(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
