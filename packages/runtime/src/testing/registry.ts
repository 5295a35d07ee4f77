/**
 * A real OCI distribution registry (Debian's `docker-registry`, CNCF distribution 2.x) on
 * 127.0.0.1, with its storage in a temp dir. Tests push test images to it and berthd pulls
 * from it over plain HTTP (allowed for loopback).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, stopChild, tempDir, trackDaemon, waitFor } from './process.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the host part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  storageDir: string;
  /** Registry output so far (warnings and errors only). */
  logs(): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';

function config(storageDir: string, port: number): string {
  // JSON is valid YAML, so no YAML writer is needed.
  return JSON.stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
  });
}

async function startOnce(port: number): Promise<Registry> {
  const dir = tempDir('registry');
  const storageDir = join(dir.path, 'storage');
  const configPath = join(dir.path, 'config.yml');
  writeFileSync(configPath, config(storageDir, port));
  const child = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackDaemon(child);
  let output = '';
  const collect = (b: Buffer) => {
    if (output.length < 1_000_000) output += b.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    dir.remove();
  };
  try {
    await waitFor(
      `docker-registry on ${url}`,
      async () => {
        const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200;
      },
      {
        timeoutMs: 10_000,
        giveUp: () => (child.exitCode === null ? undefined : `exited: ${output.trim()}`),
      },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { host: `127.0.0.1:${port}`, url, storageDir, logs: () => output, stop };
}

/** Starts a registry on a free loopback port; retries once if another process took the port. */
export async function startRegistry(): Promise<Registry> {
  try {
    return await startOnce(await freePort());
  } catch {
    return await startOnce(await freePort());
  }
}
