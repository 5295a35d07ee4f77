/**
 * The per-container shim: a detached `sh` that runs `runc run` in the foreground, so runc is
 * the container's parent and reaps it, and writes the exit status to a file when runc returns
 * — whether or not berthd is alive then. The container's stdio are FIFOs in its directory:
 * berthd reads stdout/stderr (and writes stdin) when it is up; when it is down the FIFOs fill
 * and the container blocks on output, the trade-off Docker makes too.
 *
 * The shim holds its own read+write fds on the FIFOs (`exec 3<>stdout`): a reader always
 * exists, so runc never gets EPIPE while berthd restarts, and the FIFOs reach EOF for berthd
 * only when the shim itself is gone — EOF on them means "exited", with every byte delivered.
 *
 * With a TTY, `runc run` copies between the container's pty and a terminal of its own, which
 * `script` provides; the output is raw, as Docker's. Resizing sets the size of that terminal,
 * and the kernel's SIGWINCH makes runc pass it on to the container's pty.
 *
 * Files in the container directory: config.json (the bundle), stdin/stdout/stderr (FIFOs),
 * runc.pid (the container's init, written once it started), runc.log (runc's JSON log),
 * exit (the status, written last).
 */
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  watch,
  type FSWatcher,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { mknod, S_IF, setTerminalSize, spawnSession } from '../os/libc.js';
import { watchExit } from './reaper.js';

export interface ShimPaths {
  /** The container directory (also the bundle). */
  dir: string;
  stdin: string;
  stdout: string;
  stderr: string;
  pidFile: string;
  exitFile: string;
  runcLog: string;
}

export function shimPaths(dir: string): ShimPaths {
  return {
    dir,
    stdin: join(dir, 'stdin'),
    stdout: join(dir, 'stdout'),
    stderr: join(dir, 'stderr'),
    pidFile: join(dir, 'runc.pid'),
    exitFile: join(dir, 'exit'),
    runcLog: join(dir, 'runc.log'),
  };
}

export interface ShimOptions {
  id: string;
  paths: ShimPaths;
  runc: string;
  /** runc's --root. */
  stateDir: string;
  /** Pass `run --keep` (see runSupportsKeep); without it the runtime forgets the stopped container. */
  keep: boolean;
  tty: boolean;
  /** Give the container a stdin FIFO (else /dev/null). */
  openStdin: boolean;
  /** EOF on the container's stdin when berthd closes its end (docker run -i); else the shim keeps it open. */
  stdinOnce: boolean;
  /** The TTY's initial size, [height, width] (API 1.42+ clients send it with create). */
  consoleSize?: [number, number] | undefined;
}

/** A running (or just exited) shim, with berthd's ends of its FIFOs. */
export interface ShimHandle {
  pid: number;
  startTime: string;
  stdout: Readable;
  /** Absent with a TTY (all output is on stdout). */
  stderr?: Readable;
  /** Present when the container has a stdin FIFO. */
  stdin?: Writable;
  /** Resolves once the shim is gone and every byte of output was read. */
  ended: Promise<void>;
}

/** A shim just started by startShim. */
export interface StartedShim extends ShimHandle {
  /** The container's init pid once the runtime wrote it, or undefined when the shim ended first. */
  started: Promise<number | undefined>;
}

/**
 * No temp file and rename: that would be one more process (`mv`) on every exit. berthd reads
 * the file only once the shim is gone, so it never sees it half-written.
 */
const WRITE_EXIT = 'echo $? >exit';

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function mkfifo(path: string): void {
  rmSync(path, { force: true });
  mknod(path, S_IF.FIFO | 0o600);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

/** The parent pid of `pid`, or undefined. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** The shim is running: same pid and start time (no reuse), and not a zombie nobody reaped. */
export function shimAlive(pid: number, startTime: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[0] !== 'Z' && rest[0] !== 'X' && rest[19] === startTime;
  } catch {
    return false;
  }
}

/** A non-blocking stream on a FIFO end (libuv treats a FIFO fd as a pipe). */
function fifoStream(path: string, mode: 'read' | 'write'): Socket {
  const flags =
    mode === 'read'
      ? constants.O_RDONLY | constants.O_NONBLOCK
      : constants.O_RDWR | constants.O_NONBLOCK;
  const fd = openSync(path, flags);
  return new Socket({ fd, readable: mode === 'read', writable: mode === 'write' });
}

function untilClosed(s: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    s.once('close', () => resolve());
    s.on('error', () => undefined);
  });
}

/** Creates the FIFOs and starts the shim; the container starts running right away. */
export function startShim(opts: ShimOptions): StartedShim {
  const { paths } = opts;
  for (const f of [paths.exitFile, paths.pidFile, `${paths.exitFile}.tmp`]) {
    rmSync(f, { force: true });
  }
  mkfifo(paths.stdout);
  if (!opts.tty) mkfifo(paths.stderr);
  const withStdin = opts.openStdin || opts.tty;
  if (withStdin) mkfifo(paths.stdin);

  // Our read ends exist before the shim starts; a temporary write end keeps them from seeing
  // EOF until the shim holds its own (see the module comment).
  const stdout = fifoStream(paths.stdout, 'read');
  const stderr = opts.tty ? undefined : fifoStream(paths.stderr, 'read');
  const placeholders = [paths.stdout, ...(opts.tty ? [] : [paths.stderr])].map((p) =>
    openSync(p, constants.O_WRONLY | constants.O_NONBLOCK),
  );
  const stdin = withStdin ? fifoStream(paths.stdin, 'write') : undefined;

  const runc = [
    sq(opts.runc),
    '--root',
    sq(opts.stateDir),
    '--log',
    sq(paths.runcLog),
    '--log-format',
    'json',
    'run',
    ...(opts.keep ? ['--keep'] : []),
    '--pid-file',
    sq(paths.pidFile),
    '--bundle',
    sq(paths.dir),
    sq(opts.id),
  ].join(' ');
  const keepStdin = opts.tty || (opts.openStdin && !opts.stdinOnce);
  const lines = ['cd "$1" || exit 1', 'exec 3<>stdout'];
  if (!opts.tty) lines.push('exec 4<>stderr');
  if (keepStdin) lines.push('exec 5<>stdin');
  const stdinFrom = withStdin ? 'stdin' : '/dev/null';
  // runc gives the container's pty the size of its own terminal: set that before it starts.
  const [rows = 0, cols = 0] = opts.consoleSize ?? [];
  const sizeCmd =
    rows > 0 && cols > 0
      ? `stty rows ${Math.floor(rows)} cols ${Math.floor(cols)} 2>/dev/null; `
      : '';
  if (opts.tty) {
    lines.push(
      // The status is written inside the session: busybox's script has no -e to return it.
      `SHELL=/bin/sh script -qfc ${sq(`${sizeCmd}${runc}; ${WRITE_EXIT}`)} /dev/null <${stdinFrom} >stdout 2>&1 3>&- 5>&-`,
      `rc=$?; [ -e exit ] || echo $rc >exit`,
    );
  } else {
    lines.push(`${runc} <${stdinFrom} >stdout 2>stderr 3>&- 4>&- 5>&-`, WRITE_EXIT);
  }
  const closePlaceholders = () => {
    for (const fd of placeholders.splice(0)) closeSync(fd);
  };
  let pid: number;
  try {
    // Detached in its own session, so it outlives berthd; see spawnSession for why not spawn().
    pid = spawnSession('/bin/sh', ['/bin/sh', '-c', lines.join('\n'), 'berth-shim', paths.dir]);
  } catch (err) {
    closePlaceholders();
    for (const s of [stdout, stderr, stdin]) s?.destroy();
    throw err;
  }
  const startTime = processStartTime(pid) ?? '';
  const handle: ShimHandle = {
    pid,
    startTime,
    stdout,
    ...(stderr ? { stderr } : {}),
    ...(stdin ? { stdin } : {}),
    // EOF means the shim is exiting: reap it then (it is our child, but not Node's).
    ended: ended(pid, startTime, stdout, stderr, closePlaceholders).then(() => {
      void watchExit(pid);
    }),
  };
  // Once runc wrote the pid file, the shim's own fds are in place (its redirections come
  // first); until then our write ends hold EOF off.
  const started = pidWritten(paths, pid, startTime, handle.ended).then((p) => {
    closePlaceholders();
    return p;
  });
  return { ...handle, started };
}

const STARTED_POLL_MS = 50;

/**
 * The pid from the runtime's pid file as soon as it appears (inotify on the directory: the
 * runtime writes the file and renames it into place), or undefined once the shim is gone
 * without one. A slow poll covers a missed event and a shim that died.
 */
function pidWritten(
  paths: ShimPaths,
  pid: number,
  startTime: string,
  shimEnded: Promise<void>,
): Promise<number | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: number | undefined) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(poll);
      resolve(value);
    };
    const check = (gone: boolean) => {
      const found = readPidFile(paths);
      if (found !== undefined || gone) finish(found);
    };
    let watcher: FSWatcher | undefined;
    try {
      // The exit file comes after the pid file, or instead of it when the start failed.
      watcher = watch(paths.dir, (_event, name) => {
        if (name === basename(paths.pidFile)) check(false);
        else if (name === basename(paths.exitFile)) check(true);
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // the poll below still finds it
    }
    const poll = setInterval(() => check(!shimAlive(pid, startTime)), STARTED_POLL_MS);
    void shimEnded.then(() => check(true));
    check(false);
  });
}

/** Opens berthd's ends of a live shim's FIFOs again (after a berthd restart). */
export function reattachShim(
  info: { pid: number; startTime: string; tty: boolean; stdin: boolean },
  paths: ShimPaths,
): ShimHandle {
  const stdout = fifoStream(paths.stdout, 'read');
  const stderr = info.tty ? undefined : fifoStream(paths.stderr, 'read');
  const stdin =
    info.stdin && existsSync(paths.stdin) ? fifoStream(paths.stdin, 'write') : undefined;
  return {
    pid: info.pid,
    startTime: info.startTime,
    stdout,
    ...(stderr ? { stderr } : {}),
    ...(stdin ? { stdin } : {}),
    ended: ended(info.pid, info.startTime, stdout, stderr, () => undefined),
  };
}

const LIVENESS_POLL_MS = 1_000;

/**
 * EOF on the output FIFOs means the shim is gone; a shim killed outright (so its fds were
 * closed without the exit file) looks the same. A slow poll of the pid covers a shim whose
 * FIFO ends leaked into another process.
 */
function ended(
  pid: number,
  startTime: string,
  stdout: Readable,
  stderr: Readable | undefined,
  done: () => void,
): Promise<void> {
  const streams = [stdout, ...(stderr ? [stderr] : [])];
  return new Promise((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(poll);
      done();
      resolve();
    };
    const poll = setInterval(() => {
      if (shimAlive(pid, startTime)) return;
      clearInterval(poll);
      // Give the readers a moment to drain what is left, then stop waiting for them.
      setTimeout(() => {
        for (const s of streams) s.destroy();
        finish();
      }, 2_000).unref();
    }, LIVENESS_POLL_MS);
    void Promise.all(streams.map(untilClosed)).then(finish);
  });
}

const exitFileSchema = z.string().regex(/^\d+\s*$/);

/** The status the shim wrote, or undefined when it wrote none (killed, or never ran). */
export async function readExitFile(paths: ShimPaths): Promise<number | undefined> {
  try {
    const text = exitFileSchema.safeParse(await readFile(paths.exitFile, 'utf8'));
    return text.success ? Number(text.data.trim()) : undefined;
  } catch {
    return undefined;
  }
}

/** The container's init pid once runc started it, else undefined. */
export function readPidFile(paths: ShimPaths): number | undefined {
  try {
    const pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The last error runc logged for this container (its JSON log), for start failures. */
export async function lastRuncError(paths: ShimPaths): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(paths.runcLog, 'utf8');
  } catch {
    return undefined;
  }
  const entry = z.looseObject({ level: z.string().optional(), msg: z.string().optional() });
  let last: string | undefined;
  for (const line of text.split('\n').slice(-50)) {
    try {
      const e = entry.safeParse(JSON.parse(line));
      if (e.success && (e.data.level === 'error' || e.data.level === 'fatal') && e.data.msg) {
        last = e.data.msg;
      }
    } catch {
      // a partial line
    }
  }
  return last;
}

// ---- TTY size ----------------------------------------------------------------------------

/**
 * Resizes a TTY container: sets the size of runc's own terminal (its stdin, the pty `script`
 * made); the kernel then signals SIGWINCH to runc, which resizes the container's pty.
 */
export function resizeTty(containerPid: number, height: number, width: number): void {
  const runcPid = parentPid(containerPid);
  if (runcPid === undefined) return;
  const fd = openSync(
    `/proc/${runcPid}/fd/0`,
    constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK,
  );
  try {
    setTerminalSize(fd, height, width);
  } finally {
    closeSync(fd);
  }
}
