/**
 * The receiving end of `--console-socket`: for a container (or exec) with a terminal, runc and
 * crun create the pty inside it and send the master fd over this unix socket with SCM_RIGHTS.
 * Node's net module cannot receive fds, so the socket is driven with libc calls (os/libc.ts),
 * non-blocking and polled with a deadline (a runtime that fails never connects).
 */
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import { accept4, bind, close, isErrnoError, listen, recvmsg, SOCK, socket } from '../os/libc.js';

const SUN_PATH_MAX = 107;
/** runc's utils.MaxNameLen: the pty's name travels as the message's data. */
const MAX_NAME_LEN = 4096;

/** A listening console socket at `path`; hand `path` to create/exec as `consoleSocket`. */
export class ConsoleSocket {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  static listen(path: string): ConsoleSocket {
    if (Buffer.byteLength(path) > SUN_PATH_MAX) {
      throw new Error(`console socket path too long: ${path}`);
    }
    const fd = socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.NONBLOCK | SOCK.CLOEXEC);
    const addr = Buffer.alloc(2 + SUN_PATH_MAX + 1);
    addr.writeUInt16LE(SOCK.AF_UNIX, 0);
    addr.write(path, 2);
    rmSync(path, { force: true });
    try {
      bind(fd, addr);
      listen(fd, 1);
    } catch (err) {
      close(fd);
      throw err;
    }
    return new ConsoleSocket(path, fd);
  }

  /**
   * Waits (bounded) for the runtime to connect and send the pty master; returns it as a
   * duplex stream (the container's terminal: read its output, write its input) that emits
   * 'close' when the container side is gone. Call it while create/exec runs.
   */
  async receive(timeoutMs = 30_000): Promise<Socket> {
    const deadline = Date.now() + timeoutMs;
    const retry = async (what: string, attempt: () => number): Promise<number> => {
      for (;;) {
        try {
          return attempt();
        } catch (err) {
          if (!isErrnoError(err) || err.code !== 'EAGAIN') throw err;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for the pty (${what})`);
        await new Promise((res) => setTimeout(res, 10));
      }
    };
    const conn = await retry('accept4', () => accept4(this.fd, SOCK.NONBLOCK | SOCK.CLOEXEC));
    try {
      const name = Buffer.alloc(MAX_NAME_LEN);
      const control = Buffer.alloc(64);
      await retry('recvmsg', () => recvmsg(conn, name, control, SOCK.MSG_CMSG_CLOEXEC));
      // struct cmsghdr { size_t len; int level; int type; } then the fd.
      const level = control.readInt32LE(8);
      const type = control.readInt32LE(12);
      if (level !== SOCK.SOL_SOCKET || type !== SOCK.SCM_RIGHTS) {
        throw new Error('console socket: no file descriptor received');
      }
      const master = control.readInt32LE(16);
      // A TTY handle (libuv reads it without blocking a thread), writable for the input side.
      const term = new ReadStream(master, { readable: true, writable: true });
      // Reading a master whose slave side is gone fails with EIO: that is the end of output,
      // not an error; the stream then closes.
      term.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EIO' && term.listenerCount('error') === 1) throw e;
      });
      return term;
    } finally {
      close(conn);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
    rmSync(this.path, { force: true });
  }
}
