/**
 * Keeps two daemons off one data root. The lock is a listening unix socket in the abstract
 * namespace, named after the data root's device and inode: only one process can bind a name,
 * and the kernel drops it with its holder, so a lock left by a dead daemon is free whatever
 * process now has its pid (the VM's data disk outlives its boots). flock(2) behaves the same
 * but needs libc through koffi, whose loading cost ~0.3 s of every VM boot under emulation.
 * Abstract names are per network namespace; berthd runs in the host's (or the VM's).
 */
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

export interface DataRootLock {
  release(): void;
}

/** Why the lock cannot be taken: the holder's pid (from `pidFile`), when it wrote one. */
export class DataRootInUseError extends Error {
  constructor(
    readonly dataRoot: string,
    readonly holder: string,
  ) {
    super(`data root ${dataRoot} is in use by another berthd${holder ? ` (pid ${holder})` : ''}`);
  }
}

function lockName(dataRoot: string): string {
  const st = statSync(dataRoot, { bigint: true });
  return `\0berthd-data-root/${st.dev}:${st.ino}`;
}

function bind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen({ path: name }, () => {
      server.removeAllListeners('error');
      // Nobody connects; the socket only has to exist. It must not keep the process alive.
      server.unref();
      server.on('connection', (s) => s.destroy());
      resolve(server);
    });
  });
}

/**
 * Takes the lock of `dataRoot` (which must exist) and writes this process's pid into
 * `pidFile` for the error text of the next daemon; throws DataRootInUseError when held.
 */
export async function lockDataRoot(dataRoot: string, pidFile: string): Promise<DataRootLock> {
  const server = await bind(lockName(dataRoot));
  if (!server) {
    let holder = '';
    try {
      holder = readFileSync(pidFile, 'utf8').trim();
    } catch {
      // The holder has not written it yet.
    }
    throw new DataRootInUseError(dataRoot, holder);
  }
  try {
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    server.close();
    throw err;
  }
  return {
    release() {
      try {
        unlinkSync(pidFile);
      } catch {
        // already gone
      }
      server.close();
    },
  };
}
