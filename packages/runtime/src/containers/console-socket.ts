/**
 * The receiving end of `--console-socket`: for a container (or exec) with a terminal, runc and
 * crun create the pty inside it and send the master fd over this unix socket with SCM_RIGHTS.
 * Node's net module cannot receive fds, so the socket is driven with libc calls through koffi,
 * non-blocking and polled with a deadline (a runtime that fails never connects).
 *
 * Layouts below are the LP64 ones (x86-64, arm64), the only ones berthd builds for.
 */
import koffi from 'koffi';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { ReadStream } from 'node:tty';

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;
const SUN_PATH_MAX = 107;
/** runc's utils.MaxNameLen: the pty's name travels as the message's data. */
const MAX_NAME_LEN = 4096;

type Fn = (...args: unknown[]) => number;
interface SocketCalls {
  socket: Fn;
  bind: Fn;
  listen: Fn;
  accept4: Fn;
  recvmsg: Fn;
  close: Fn;
}
let calls: SocketCalls | undefined;

function libc(): SocketCalls {
  if (calls) return calls;
  let lib;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    lib = koffi.load(null);
  }
  const iovec = koffi.struct('berth_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  koffi.struct('berth_msghdr', {
    msg_name: 'void *',
    msg_namelen: 'uint32_t',
    msg_iov: koffi.pointer(iovec),
    msg_iovlen: 'size_t',
    msg_control: 'void *',
    msg_controllen: 'size_t',
    msg_flags: 'int',
  });
  const f = (decl: string): Fn => lib.func(decl) as Fn;
  calls = {
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, const void *addr, uint32_t len)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: f('int accept4(int fd, void *addr, void *len, int flags)'),
    recvmsg: f('intptr_t recvmsg(int fd, _Inout_ berth_msghdr *msg, int flags)'),
    close: f('int close(int fd)'),
  };
  return calls;
}

function fail(call: string): never {
  throw new Error(`${call} failed: errno ${koffi.errno()}`);
}

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
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail('socket');
    const addr = Buffer.alloc(2 + SUN_PATH_MAX + 1);
    addr.writeUInt16LE(AF_UNIX, 0);
    addr.write(path, 2);
    rmSync(path, { force: true });
    if (c.bind(fd, addr, addr.length) < 0 || c.listen(fd, 1) < 0) {
      c.close(fd);
      fail('bind/listen');
    }
    return new ConsoleSocket(path, fd);
  }

  /**
   * Waits (bounded) for the runtime to connect and send the pty master; returns it as a
   * duplex stream (the container's terminal: read its output, write its input) that emits
   * 'close' when the container side is gone. Call it while create/exec runs.
   */
  async receive(timeoutMs = 30_000): Promise<Socket> {
    const c = libc();
    const deadline = Date.now() + timeoutMs;
    const retry = async (what: string, attempt: () => number): Promise<number> => {
      for (;;) {
        const r = attempt();
        if (r >= 0) return r;
        if (koffi.errno() !== EAGAIN) fail(what);
        if (Date.now() > deadline) throw new Error(`timed out waiting for the pty (${what})`);
        await new Promise((res) => setTimeout(res, 10));
      }
    };
    const conn = await retry('accept4', () =>
      c.accept4(this.fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC),
    );
    try {
      const name = Buffer.alloc(MAX_NAME_LEN);
      const control = Buffer.alloc(64);
      const msg = {
        msg_name: null,
        msg_namelen: 0,
        msg_iov: [{ iov_base: name, iov_len: name.length }],
        msg_iovlen: 1,
        msg_control: control,
        msg_controllen: control.length,
        msg_flags: 0,
      };
      await retry('recvmsg', () => c.recvmsg(conn, msg, MSG_CMSG_CLOEXEC));
      // struct cmsghdr { size_t len; int level; int type; } then the fd.
      const level = control.readInt32LE(8);
      const type = control.readInt32LE(12);
      if (level !== SOL_SOCKET || type !== SCM_RIGHTS) {
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
      c.close(conn);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
    rmSync(this.path, { force: true });
  }
}
