/**
 * Exec instances (`docker exec`): POST /containers/{id}/exec records one, /exec/{id}/start
 * runs it once in the running container through the OCI runtime (`runc exec --process
 * --detach`), and /exec/{id}/json reports it. moby's daemon/exec.go is the reference for the
 * states and messages.
 *
 * Stdio without a TTY: stdout/stderr are pipes; stdin (when attached) is a FIFO whose write
 * end berthd holds, so the process sees EOF exactly when the client half-closes its input.
 * With a TTY the runtime sends the pty master over a console socket; all output is raw.
 *
 * Ordering contract the docker CLI relies on: the hijacked stream ends only after the exit
 * code was recorded, because the CLI inspects the exec right after the stream ends.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { z } from 'zod';
import { encodeFrame } from '@berth/engine-client';
import { ConflictError, InvalidParameterError, NotFoundError } from '../api/errors.js';
import type { Engine } from '../engine.js';
import { mknod, S_IF, setTerminalSize } from '../os/libc.js';
import { detachFilter, parseDetachKeys } from './attach.js';
import { ConsoleSocket } from './console-socket.js';
import type { OciRuntime, ProcessStdio, RuntimeProcessHandle } from './oci-runtime.js';
import { buildExecProcess } from './oci-spec.js';
import type { ContainerView } from './service.js';

/** What exec needs of the container service (ContainerService provides it). */
export interface ExecContainers {
  get(idOrName: string): ContainerView;
  readonly runtime: OciRuntime;
  /** The container's runtime spec (its bundle's config.json). */
  spec(id: string): Promise<unknown>;
}

/** The body of POST /containers/{id}/exec. */
export const execCreateSchema = z.looseObject({
  AttachStdin: z.boolean().optional(),
  AttachStdout: z.boolean().optional(),
  AttachStderr: z.boolean().optional(),
  ConsoleSize: z.array(z.number().int().nonnegative()).nullish(),
  DetachKeys: z.string().optional(),
  Tty: z.boolean().optional(),
  Env: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Privileged: z.boolean().optional(),
  User: z.string().optional(),
  WorkingDir: z.string().optional(),
});
export type ExecCreateRequest = z.infer<typeof execCreateSchema>;

/** The body of POST /exec/{id}/start. */
export const execStartSchema = z.looseObject({
  Detach: z.boolean().optional(),
  Tty: z.boolean().optional(),
  ConsoleSize: z.array(z.number().int().nonnegative()).nullish(),
});

const specProcessSchema = z.looseObject({
  process: z.looseObject({
    user: z.looseObject({ uid: z.number().int(), gid: z.number().int() }),
    args: z.array(z.string()),
    env: z.array(z.string()),
    cwd: z.string(),
  }),
});

export interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecCreateRequest;
  detachKeys: number[];
  started: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** The pty master while a TTY exec runs. */
  term?: Socket;
  /** A size asked for before the pty existed. */
  pendingSize?: { height: number; width: number };
  finishedAt?: number;
}

/** Exited execs stay inspectable this long (the CLI and compose inspect right after). */
const KEEP_EXITED_MS = 10 * 60_000;
const MAX_EXECS = 2_000;
function fdOf(term: Socket): number | undefined {
  const fd = (term as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** moby's translateContainerdStartErr for exec: 127 not found, 126 not executable. */
function startFailureCode(detail: string): number {
  const lower = detail.toLowerCase();
  if (lower.includes('executable file not found') || lower.includes('no such file or directory')) {
    return 127;
  }
  return 126;
}

/** A FIFO for a process's stdin: a blocking read end for the child, our write end. */
function stdinFifo(path: string): { childFd: number; writer: Socket } {
  rmSync(path, { force: true });
  mknod(path, S_IF.FIFO | 0o600);
  try {
    // Our end first (O_RDWR never blocks on a FIFO), then the child's blocking read end
    // opens at once because a writer exists. The child must not get O_NONBLOCK.
    const wfd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    const childFd = openSync(path, constants.O_RDONLY);
    return { childFd, writer: new Socket({ fd: wfd, readable: false, writable: true }) };
  } finally {
    rmSync(path, { force: true });
  }
}

export class ExecService {
  private readonly execs = new Map<string, ExecInstance>();

  constructor(
    private readonly engine: Engine,
    private readonly containers: ExecContainers,
  ) {
    engine.events.subscribe((e) => {
      if (e.Type === 'container' && e.Action === 'destroy') this.forgetContainer(e.Actor.ID);
    });
  }

  private emit(view: ContainerView, action: string, extra: Record<string, string>): void {
    const rec = view.record;
    this.engine.events.emit('container', action, view.id, {
      ...(rec.Config.Labels ?? {}),
      image: rec.Config.Image ?? rec.Image,
      name: rec.Name.replace(/^\//, ''),
      ...extra,
    });
  }

  private lookup(id: string): ExecInstance {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  /** 409s of moby's getActiveContainer. */
  private activeContainer(idOrName: string): ContainerView {
    const view = this.containers.get(idOrName);
    if (!view.running) throw new ConflictError(`Container ${view.id} is not running`);
    if (view.paused) {
      throw new ConflictError(`Container ${view.id} is paused, unpause the container before exec`);
    }
    if (view.record.State.Restarting) {
      throw new ConflictError(
        `Container ${view.id} is restarting, wait until the container is running`,
      );
    }
    return view;
  }

  /** Exec IDs of a container (its inspect's ExecIDs); null when none, as moby prints. */
  idsOf(containerId: string): string[] | null {
    const ids = [...this.execs.values()]
      .filter((e) => e.containerId === containerId && !e.finishedAt)
      .map((e) => e.id);
    return ids.length ? ids : null;
  }

  private forgetContainer(containerId: string): void {
    for (const [id, e] of this.execs)
      if (e.containerId === containerId && !e.running) this.execs.delete(id);
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.execs) {
      if (e.finishedAt !== undefined && now - e.finishedAt > KEEP_EXITED_MS) this.execs.delete(id);
    }
    if (this.execs.size < MAX_EXECS) return;
    const done = [...this.execs.values()]
      .filter((e) => !e.running)
      .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const e of done.slice(0, this.execs.size - MAX_EXECS + 1)) this.execs.delete(e.id);
  }

  /** POST /containers/{id}/exec */
  create(idOrName: string, body: ExecCreateRequest): { Id: string } {
    const view = this.activeContainer(idOrName);
    if (!body.Cmd?.length) throw new InvalidParameterError('No exec command specified');
    const detachKeys = parseDetachKeys(body.DetachKeys);
    this.prune();
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, {
      id,
      containerId: view.id,
      config: body,
      detachKeys,
      started: false,
      running: false,
      exitCode: null,
      pid: 0,
    });
    const cmd = body.Cmd.join(' ');
    this.emit(view, `exec_create: ${cmd}`, { execID: id });
    return { Id: id };
  }

  /** GET /exec/{id}/json */
  inspect(id: string): Record<string, unknown> {
    const e = this.lookup(id);
    const [entrypoint = '', ...args] = e.config.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: e.config.Tty ?? false,
        entrypoint,
        arguments: args,
        privileged: e.config.Privileged ?? false,
        ...(e.config.User ? { user: e.config.User } : {}),
      },
      OpenStdin: e.config.AttachStdin ?? false,
      OpenStderr: e.config.AttachStderr ?? false,
      OpenStdout: e.config.AttachStdout ?? false,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  /** POST /exec/{id}/resize; a size asked for before the pty exists is applied once it does. */
  resize(id: string, height: number, width: number): void {
    const e = this.lookup(id);
    if (!e.config.Tty) return;
    if (e.exitCode !== null) throw new ConflictError(`Exec ${id} is not running`);
    const fd = e.term ? fdOf(e.term) : undefined;
    if (fd === undefined) {
      e.pendingSize = { height, width };
      return;
    }
    setTerminalSize(fd, height, width);
  }

  /**
   * Checks that exec `id` may start now and claims it (409/404 with moby's messages). Call it
   * before hijacking, so refusals go out as plain JSON errors.
   */
  claim(id: string): ExecInstance {
    const e = this.lookup(id);
    if (e.running) throw new ConflictError(`Error: Exec command ${id} is already running`);
    if (e.started) throw new ConflictError(`Error: Exec command ${id} has already run`);
    this.activeContainer(e.containerId);
    e.started = true;
    return e;
  }

  /**
   * Runs a claimed exec. With `conn` (a hijacked connection) output goes there (framed unless
   * a TTY), input comes from it, and the connection ends after the exit is recorded. Without
   * it (Detach) the process runs with no stdio; resolves once it started. A start failure is
   * thrown when detached, written to `conn` otherwise (as moby does).
   */
  async run(
    e: ExecInstance,
    conn: Duplex | undefined,
    consoleSize?: number[] | null,
  ): Promise<void> {
    const view = this.activeContainer(e.containerId);
    const tty = e.config.Tty ?? false;
    const attachIn = conn !== undefined && (e.config.AttachStdin ?? false);
    const attachOut = conn !== undefined && (e.config.AttachStdout ?? false);
    const attachErr = conn !== undefined && (e.config.AttachStderr ?? false);

    const dir = join(this.engine.config.execRoot, 'exec');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const base = join(dir, e.id.slice(0, 16));
    let fifo: { childFd: number; writer: Socket } | undefined;
    let console: ConsoleSocket | undefined;
    let handle: RuntimeProcessHandle;
    let term: Socket | undefined;
    try {
      const spec = specProcessSchema.parse(await this.containers.spec(view.id));
      const groupAdd = (view.record.HostConfig as { GroupAdd?: string[] | null }).GroupAdd ?? [];
      const process = await buildExecProcess(
        view.rootfs,
        spec.process,
        { ...e.config, ...(consoleSize ? { ConsoleSize: consoleSize } : {}) },
        groupAdd,
      );
      const stdio: ProcessStdio = {};
      if (tty) {
        console = ConsoleSocket.listen(`${base}.sock`);
      } else {
        if (attachIn) {
          fifo = stdinFifo(`${base}.stdin`);
          stdio.stdin = fifo.childFd;
        }
        stdio.stdout = attachOut ? 'pipe' : 'ignore';
        stdio.stderr = attachErr ? 'pipe' : 'ignore';
      }
      const exec = this.containers.runtime.exec?.bind(this.containers.runtime);
      if (!exec) throw new Error(`${this.containers.runtime.name} cannot exec`);
      const started = exec(view.id, process, {
        stdio,
        ...(console ? { consoleSocket: console.path } : {}),
      });
      if (console) {
        const received = console.receive();
        // The runtime may fail before it ever connects: whichever settles first decides.
        const [h, t] = await Promise.all([
          started,
          received.catch(async (err: unknown) => {
            await started; // a runtime error says more than a console timeout
            throw err;
          }),
        ]);
        handle = h;
        term = t;
      } else {
        handle = await started;
      }
    } catch (err) {
      fifo?.writer.destroy();
      const detail = (err instanceof Error ? err.message : String(err)).replace(
        /^(runc|crun) exec \S+: /,
        '',
      );
      e.exitCode = startFailureCode(detail);
      e.finishedAt = Date.now();
      const message =
        err instanceof InvalidParameterError || err instanceof NotFoundError
          ? detail
          : `OCI runtime exec failed: ${detail}: unknown`;
      if (!conn) {
        if (err instanceof InvalidParameterError || err instanceof NotFoundError) throw err;
        throw new ConflictError(message);
      }
      const text = Buffer.from(`${message}\r\n`);
      conn.end(tty ? text : encodeFrame('stdout', text));
      return;
    } finally {
      if (fifo) closeSync(fifo.childFd);
      console?.close();
    }

    e.pid = handle.pid;
    e.running = true;
    this.emit(view, `exec_start: ${(e.config.Cmd ?? []).join(' ')}`, { execID: e.id });
    if (term) {
      e.term = term;
      const fd = fdOf(term);
      const size = e.pendingSize;
      if (fd !== undefined && size) {
        try {
          setTerminalSize(fd, size.height, size.width);
        } catch {
          // the process may be gone already
        }
      }
    }

    const finished = this.follow(e, handle, term, fifo?.writer, conn, tty).then((exitCode) => {
      e.exitCode = exitCode;
      e.running = false;
      e.finishedAt = Date.now();
      e.term = undefined;
      this.emit(view, 'exec_die', { execID: e.id, exitCode: String(exitCode) });
      conn?.end();
    });
    if (conn) await finished;
    else void finished.catch(() => undefined);
  }

  /** Pumps stdio until the process exited and its output ended; resolves with the exit code. */
  private async follow(
    e: ExecInstance,
    handle: RuntimeProcessHandle,
    term: Socket | undefined,
    stdin: Socket | undefined,
    conn: Duplex | undefined,
    tty: boolean,
  ): Promise<number> {
    const outputs: Readable[] = [];
    const send = (stream: 'stdout' | 'stderr', data: Buffer) => {
      if (!conn || conn.destroyed || conn.writableEnded) return;
      conn.write(tty ? data : encodeFrame(stream, data));
    };
    if (term) {
      outputs.push(term);
      term.on('data', (d: Buffer) => send('stdout', d));
    } else {
      if (handle.stdout) {
        outputs.push(handle.stdout);
        handle.stdout.on('data', (d: Buffer) => send('stdout', d));
      }
      if (handle.stderr) {
        outputs.push(handle.stderr);
        handle.stderr.on('data', (d: Buffer) => send('stderr', d));
      }
    }
    stdin?.on('error', () => undefined);
    let detached = false;
    if (conn) {
      const wantsInput =
        (e.config.AttachStdin ?? false) && (term !== undefined || stdin !== undefined);
      if (wantsInput) {
        const filter = detachFilter(e.detachKeys, () => {
          detached = true;
          conn.end();
        });
        conn.on('data', (data: Buffer) => {
          if (detached) return;
          const pass = filter(data);
          if (pass.length === 0) return;
          if (term) term.write(pass);
          else stdin?.write(pass);
        });
        // EOF on the client's input is EOF on the process's stdin (a pty has no half-close).
        conn.on('end', () => stdin?.end(() => stdin.destroy()));
      } else {
        conn.on('data', () => undefined);
      }
      conn.on('error', () => undefined);
      conn.on('close', () => {
        // The client went away: the process keeps running, as in Docker; its input ends.
        stdin?.destroy();
      });
    }
    const ended = outputs.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed || s.readableEnded) return resolve();
          s.once('close', () => resolve());
          s.once('end', () => resolve());
          s.on('error', () => resolve());
        }),
    );
    const status = await handle.exited;
    // Output still buffered in a pipe arrives after the exit; a process that left a child
    // holding the pipe open must not hold the exec open forever.
    await Promise.race([Promise.all(ended), new Promise((r) => setTimeout(r, 2_000).unref())]);
    for (const s of outputs) s.destroy();
    stdin?.destroy();
    return status?.exitCode ?? 255;
  }
}
