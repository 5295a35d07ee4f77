/**
 * Persistent network namespaces made without starting a process: the daemon's main thread
 * unshares a new namespace, bind-mounts it on a file (as `unshare --net=FILE` does), brings its
 * loopback up and returns to its own namespace — all synchronously, so no JavaScript (and no
 * socket of ours) ever runs inside. A namespace belongs to a thread, not to the process: the
 * libuv threads and every other part of the daemon stay where they were.
 */
import { closeSync, openSync, rmSync } from 'node:fs';
import { SystemError } from '../api/errors.js';
import {
  CLONE,
  close,
  ioctl,
  MNT,
  MS,
  mount,
  setns,
  socket,
  umount2,
  unshare,
} from '../os/libc.js';

const SELF_NETNS = '/proc/thread-self/ns/net';
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** struct ifreq: a 16-byte name, then a 24-byte union whose first member is ifr_flags. */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

/** Sets interface `name` up, in the calling thread's network namespace. */
function linkUp(name: string): void {
  const fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    const req = Buffer.alloc(IFREQ_SIZE);
    req.write(name, 0, IFNAMSIZ - 1, 'latin1');
    ioctl(fd, SIOCGIFFLAGS, req);
    req.writeUInt16LE(req.readUInt16LE(IFNAMSIZ) | IFF_UP, IFNAMSIZ);
    ioctl(fd, SIOCSIFFLAGS, req);
  } finally {
    close(fd);
  }
}

/** Failing to come back would leave the daemon's own sockets in the wrong namespace: fatal. */
function returnTo(home: number): void {
  try {
    setns(home, CLONE.NEWNET);
  } catch (err) {
    process.stderr.write(`berthd: cannot return to its network namespace: ${String(err)}\n`);
    process.abort();
  }
}

/** Makes a new network namespace with loopback up, bind-mounted on `path` (a new file). */
export function createNetns(path: string): void {
  closeSync(openSync(path, 'w', 0o444));
  const home = openSync(SELF_NETNS, 'r');
  try {
    unshare(CLONE.NEWNET);
    try {
      mount(SELF_NETNS, path, null, MS.BIND);
      linkUp('lo');
    } finally {
      returnTo(home);
    }
  } catch (err) {
    try {
      umount2(path, MNT.DETACH);
    } catch {
      // not mounted
    }
    rmSync(path, { force: true });
    throw new SystemError(`cannot create a network namespace at ${path}: ${String(err)}`);
  } finally {
    closeSync(home);
  }
}
