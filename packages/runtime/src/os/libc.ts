/**
 * Thin bindings to the libc calls Node lacks (xattrs, mknod, mount, syncfs, terminal size,
 * subreaper and waitpid, unix sockets that receive fds), through koffi: the one place libc is
 * loaded. Each call is synchronous, like the syscall it wraps, and throws a Node-style error
 * (`code` 'EPERM', `errno` negative, `syscall`, `path`) exactly as fs would, so callers test
 * `err.code` the same way for both. libc is loaded on first use, so importing this module on a
 * non-Linux host (the desktop app) costs nothing.
 */
import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';
import { getSystemErrorName } from 'node:util';

/** A failed syscall, shaped like the errors node:fs throws. */
export interface ErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
}

export function isErrnoError(err: unknown): err is ErrnoError {
  return err instanceof Error && typeof (err as Partial<ErrnoError>).code === 'string';
}

/** mount(2) flags (linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  NOATIME: 0x400,
  BIND: 0x1000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
} as const;

/** umount2(2) flags. */
export const MNT = { FORCE: 0x1, DETACH: 0x2 } as const;

/** lsetxattr(2) flags. */
export const XATTR = { CREATE: 0x1, REPLACE: 0x2 } as const;

/** File type bits for mknod's mode. */
export const S_IF = { FIFO: 0o010000, CHR: 0o020000, BLK: 0o060000, REG: 0o100000 } as const;

/** Namespace flags of unshare(2) and setns(2). */
export const CLONE = { NEWNET: 0x40000000 } as const;

/** prctl(2) options. */
export const PR = { SET_CHILD_SUBREAPER: 36 } as const;

/** waitpid(2) options. */
export const WNOHANG = 1;

/** socket(2), accept4(2) and recvmsg(2) constants (Linux). */
export const SOCK = {
  AF_UNIX: 1,
  STREAM: 1,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SCM_RIGHTS: 1,
  MSG_CMSG_CLOEXEC: 0x40000000,
} as const;

const TIOCSWINSZ = 0x5414;

type Fn = (...args: unknown[]) => number;

interface Libc {
  lsetxattr: Fn;
  lgetxattr: Fn;
  llistxattr: Fn;
  mknod: Fn;
  mount: Fn;
  umount2: Fn;
  syncfs: Fn;
  ioctl: Fn;
  prctl: Fn;
  waitpid: Fn;
  socket: Fn;
  bind: Fn;
  listen: Fn;
  accept4: Fn;
  recvmsg: Fn;
  close: Fn;
  unshare: Fn;
  setns: Fn;
  posix_spawn: Fn;
  posix_spawn_file_actions_init: Fn;
  posix_spawn_file_actions_addopen: Fn;
  posix_spawn_file_actions_destroy: Fn;
  posix_spawnattr_init: Fn;
  posix_spawnattr_setflags: Fn;
  posix_spawnattr_setsigmask: Fn;
  posix_spawnattr_setsigdefault: Fn;
  posix_spawnattr_destroy: Fn;
  strerror: (errnum: number) => string;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux')
    throw new Error(`libc bindings are Linux-only (${process.platform})`);
  // glibc's soname; a musl system names libc differently, and the running process has it loaded.
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    lib = koffi.load(null);
  }
  // LP64 layouts (x86-64, arm64), the only ones berthd builds for.
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
  libc = {
    lsetxattr: f(
      'int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)',
    ),
    lgetxattr: f(
      'intptr_t lgetxattr(const char *path, const char *name, void *value, size_t size)',
    ),
    llistxattr: f('intptr_t llistxattr(const char *path, void *list, size_t size)'),
    // dev_t is 64 bits on every Linux ABI glibc supports.
    mknod: f('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    mount: f(
      'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
    ),
    umount2: f('int umount2(const char *target, int flags)'),
    syncfs: f('int syncfs(int fd)'),
    ioctl: f('int ioctl(int fd, unsigned long request, void *arg)'),
    prctl: f(
      'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
    ),
    waitpid: f('int waitpid(int pid, _Out_ int *status, int options)'),
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, const void *addr, uint32_t len)'),
    listen: f('int listen(int fd, int backlog)'),
    accept4: f('int accept4(int fd, void *addr, void *len, int flags)'),
    recvmsg: f('intptr_t recvmsg(int fd, _Inout_ berth_msghdr *msg, int flags)'),
    close: f('int close(int fd)'),
    unshare: f('int unshare(int flags)'),
    setns: f('int setns(int fd, int nstype)'),
    posix_spawn: f(
      'int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
    ),
    posix_spawn_file_actions_init: f('int posix_spawn_file_actions_init(void *actions)'),
    posix_spawn_file_actions_addopen: f(
      'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)',
    ),
    posix_spawn_file_actions_destroy: f('int posix_spawn_file_actions_destroy(void *actions)'),
    posix_spawnattr_init: f('int posix_spawnattr_init(void *attr)'),
    posix_spawnattr_setflags: f('int posix_spawnattr_setflags(void *attr, short flags)'),
    posix_spawnattr_setsigmask: f('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    posix_spawnattr_setsigdefault: f(
      'int posix_spawnattr_setsigdefault(void *attr, const void *set)',
    ),
    posix_spawnattr_destroy: f('int posix_spawnattr_destroy(void *attr)'),
    strerror: lib.func('const char *strerror(int errnum)') as (errnum: number) => string,
  };
  return libc;
}

function errnoError(syscall: string, path: string | undefined, errnum: number): ErrnoError {
  const l = load();
  const code = getSystemErrorName(-errnum);
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${l.strerror(errnum).toLowerCase()}, ${where}`) as ErrnoError;
  err.errno = -errnum;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** A C string ends at NUL: a name with one inside would silently name another file. */
function cstr(s: string, what: string): string {
  if (s.includes('\0')) {
    const err = new TypeError(`${what} must not contain NUL bytes`) as TypeError & { code: string };
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return s;
}

function check(ret: number, syscall: string, path?: string): number {
  if (ret < 0) throw errnoError(syscall, path, koffi.errno());
  return ret;
}

export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  const l = load();
  check(
    l.lsetxattr(cstr(path, 'path'), cstr(name, 'name'), value, value.length, flags),
    'lsetxattr',
    path,
  );
}

/** The value of xattr `name` of `path` itself (not a symlink's target); ENODATA when unset. */
export function lgetxattr(path: string, name: string): Buffer {
  const l = load();
  cstr(path, 'path');
  cstr(name, 'name');
  // Size first, then fetch; retry if the value grew in between (ERANGE).
  for (let attempt = 0; attempt < 5; attempt++) {
    const size = check(l.lgetxattr(path, name, null, 0), 'lgetxattr', path);
    const buf = Buffer.alloc(Math.max(size, 1));
    const ret = l.lgetxattr(path, name, buf, buf.length);
    if (ret >= 0) return buf.subarray(0, ret);
    const errnum = koffi.errno();
    if (getSystemErrorName(-errnum) !== 'ERANGE') throw errnoError('lgetxattr', path, errnum);
  }
  throw errnoError('lgetxattr', path, koffi.os.errno.ERANGE ?? 34);
}

/** Names of the xattrs set on `path` itself. */
export function llistxattr(path: string): string[] {
  const l = load();
  cstr(path, 'path');
  for (let attempt = 0; attempt < 5; attempt++) {
    const size = check(l.llistxattr(path, null, 0), 'llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const ret = l.llistxattr(path, buf, buf.length);
    if (ret >= 0) {
      return buf
        .subarray(0, ret)
        .toString('utf8')
        .split('\0')
        .filter((n) => n !== '');
    }
    const errnum = koffi.errno();
    if (getSystemErrorName(-errnum) !== 'ERANGE') throw errnoError('llistxattr', path, errnum);
  }
  throw errnoError('llistxattr', path, koffi.os.errno.ERANGE ?? 34);
}

/** glibc's makedev(): the 64-bit dev_t encoding of major/minor. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** Creates a device node or FIFO; `mode` includes the type bits (`S_IF.CHR | 0o600`). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  const l = load();
  check(l.mknod(cstr(path, 'path'), mode, makedev(major, minor)), 'mknod', path);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags = 0,
  data: string | null = null,
): void {
  const l = load();
  const s = source === null ? null : cstr(source, 'source');
  const t = fstype === null ? null : cstr(fstype, 'fstype');
  const d = data === null ? null : cstr(data, 'data');
  check(l.mount(s, cstr(target, 'target'), t, flags, d), 'mount', target);
}

export function umount2(target: string, flags = 0): void {
  const l = load();
  check(l.umount2(cstr(target, 'target'), flags), 'umount2', target);
}

/**
 * Flushes the whole filesystem that holds open file descriptor `fd` to disk. Runs on a worker
 * thread: a flush can take hundreds of milliseconds, which must not stall the event loop (a
 * pull keeps downloading other layers meanwhile).
 */
export function syncfs(fd: number): Promise<void> {
  const fn = load().syncfs as Fn & {
    async: (fd: number, done: (err: unknown, ret: number) => void) => void;
  };
  return new Promise((resolve, reject) => {
    fn.async(fd, (err, ret) => {
      if (err) reject(err instanceof Error ? err : new Error('syncfs: call failed'));
      else if (ret < 0) reject(errnoError('syncfs', undefined, koffi.errno()));
      else resolve();
    });
  });
}

/** Sets the window size of the terminal open as `fd` (the kernel signals SIGWINCH). */
export function setTerminalSize(fd: number, height: number, width: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(height, 0);
  ws.writeUInt16LE(width, 2);
  check(load().ioctl(fd, TIOCSWINSZ, ws), 'ioctl');
}

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check(load().prctl(option, a2, a3, a4, a5), 'prctl');
}

/**
 * waitpid(2): the pid that changed state (0 with WNOHANG while it runs) and its wait status.
 * Throws ECHILD when `pid` is not a child of this process.
 */
export function waitpid(pid: number, options = 0): { pid: number; status: number } {
  const status = [0];
  const ret = check(load().waitpid(pid, status, options), 'waitpid');
  return { pid: ret, status: status[0] ?? 0 };
}

export function socket(domain: number, type: number, protocol = 0): number {
  return check(load().socket(domain, type, protocol), 'socket');
}

export function bind(fd: number, addr: Buffer): void {
  check(load().bind(fd, addr, addr.length), 'bind');
}

export function listen(fd: number, backlog: number): void {
  check(load().listen(fd, backlog), 'listen');
}

/** Accepts a connection without the peer's address; EAGAIN on a non-blocking socket. */
export function accept4(fd: number, flags = 0): number {
  return check(load().accept4(fd, null, null, flags), 'accept4');
}

/** Receives into `data` (one iovec) with ancillary data into `control`; returns bytes read. */
export function recvmsg(fd: number, data: Buffer, control: Buffer, flags = 0): number {
  const msg = {
    msg_name: null,
    msg_namelen: 0,
    msg_iov: [{ iov_base: data, iov_len: data.length }],
    msg_iovlen: 1,
    msg_control: control,
    msg_controllen: control.length,
    msg_flags: 0,
  };
  return check(load().recvmsg(fd, msg, flags), 'recvmsg');
}

export function close(fd: number): void {
  check(load().close(fd), 'close');
}

/**
 * unshare(2). Namespaces such as the network one belong to the calling *thread*: on Node's
 * main thread, a caller must setns() back before it yields to the event loop.
 */
export function unshare(flags: number): void {
  check(load().unshare(flags), 'unshare');
}

/** setns(2): moves the calling thread into the namespace open as `fd`. */
export function setns(fd: number, nstype: number): void {
  check(load().setns(fd, nstype), 'setns');
}

/** ioctl(2) with a caller-laid-out argument buffer; returns the ioctl's result. */
export function ioctl(fd: number, request: number, arg: Buffer): number {
  return check(load().ioctl(fd, request, arg), 'ioctl');
}

/** posix_spawnattr flags (the same values in glibc and musl). */
const SPAWN = { SETSIGDEF: 0x04, SETSIGMASK: 0x08, SETSID: 0x80 } as const;
/** Room for posix_spawn_file_actions_t (80 bytes in glibc) and posix_spawnattr_t (336). */
const SPAWN_ACTIONS_SIZE = 256;
const SPAWN_ATTR_SIZE = 1024;
/** sigset_t: 1024 bits. */
const SIGSET_SIZE = 128;

/** posix_spawn's family returns the error number instead of setting errno. */
function checkSpawn(ret: number, call: string, path: string): void {
  if (ret !== 0) throw errnoError(call, path, ret);
}

/**
 * Starts `path` (argv[0] included in `argv`) in a new session, with stdio on /dev/null, every
 * signal at its default action and none blocked, and returns its pid. posix_spawn's
 * vfork-style clone copies no page tables: node's spawn forks the whole daemon, tens of
 * milliseconds on a busy machine. The child is not Node's, so Node never reaps it: the caller
 * must (waitpid, e.g. containers/reaper.ts watchExit). Other fds are not passed on (Node opens
 * its own close-on-exec).
 */
export function spawnSession(
  path: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): number {
  const l = load();
  const actions = Buffer.alloc(SPAWN_ACTIONS_SIZE);
  const attr = Buffer.alloc(SPAWN_ATTR_SIZE);
  checkSpawn(l.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init', path);
  try {
    checkSpawn(l.posix_spawnattr_init(attr), 'posix_spawnattr_init', path);
    try {
      for (const [fd, flags] of [
        [0, 0], // O_RDONLY
        [1, 1], // O_WRONLY
        [2, 1],
      ] as const) {
        checkSpawn(
          l.posix_spawn_file_actions_addopen(actions, fd, '/dev/null', flags, 0),
          'posix_spawn_file_actions_addopen',
          path,
        );
      }
      checkSpawn(
        l.posix_spawnattr_setflags(attr, SPAWN.SETSID | SPAWN.SETSIGMASK | SPAWN.SETSIGDEF),
        'posix_spawnattr_setflags',
        path,
      );
      checkSpawn(
        l.posix_spawnattr_setsigmask(attr, Buffer.alloc(SIGSET_SIZE)),
        'posix_spawnattr_setsigmask',
        path,
      );
      checkSpawn(
        l.posix_spawnattr_setsigdefault(attr, Buffer.alloc(SIGSET_SIZE, 0xff)),
        'posix_spawnattr_setsigdefault',
        path,
      );
      const envp = Object.entries(env)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([k, v]) => cstr(`${k}=${v}`, 'env'));
      const pid = [0];
      checkSpawn(
        l.posix_spawn(
          pid,
          cstr(path, 'path'),
          actions,
          attr,
          [...argv.map((a) => cstr(a, 'argv')), null],
          [...envp, null],
        ),
        'posix_spawn',
        path,
      );
      return pid[0] ?? 0;
    } finally {
      l.posix_spawnattr_destroy(attr);
    }
  } finally {
    l.posix_spawn_file_actions_destroy(actions);
  }
}
