/**
 * The OCI runtime (runc or crun) driven through its CLI, which both share: `--root` holds the
 * runtime's state, `create` sets a container up and leaves its process waiting, `start` lets
 * it run, `state` reports it, `kill` signals it, `delete` removes it.
 *
 * Terms: a *bundle* is a directory with config.json (see oci-spec.ts); an *id* names the
 * container to the runtime (berthd uses the container ID).
 *
 * Stdio: without a terminal the container's process inherits the stdio that `create` was
 * given — fds the caller owns (files, FIFOs) or pipes made here — and keeps them after the
 * runtime exits. With a terminal the runtime sends the pty master over `consoleSocket` with
 * SCM_RIGHTS; receive it with ConsoleSocket (console-socket.ts) while create/exec runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { z } from 'zod';
import { NotFoundError, SystemError } from '../api/errors.js';
import { detectCgroup, type CgroupInfo } from './cgroups.js';
import type { RuntimeProcess } from './oci-spec.js';
import { becomeSubreaper, watchExit, type ExitStatus } from './reaper.js';

/** An fd the caller opened (the runtime's child inherits it), a new pipe, or /dev/null. */
export type StdioTarget = number | 'pipe' | 'ignore';

export interface ProcessStdio {
  /**
   * No 'pipe' here: Node closes a child's stdin pipe when the runtime exits, long before the
   * container would read it. Give an fd (e.g. the read end of a FIFO) instead.
   */
  stdin?: number | 'ignore';
  stdout?: StdioTarget;
  stderr?: StdioTarget;
}

export interface CreateOptions {
  /** Directory holding config.json. */
  bundle: string;
  stdio?: ProcessStdio;
  /** Unix socket path that receives the pty master when the spec asks for a terminal. */
  consoleSocket?: string;
}

export interface ExecOptions {
  stdio?: ProcessStdio;
  consoleSocket?: string;
}

/** A process the runtime started: the container's init, or an exec'd one. */
export interface RuntimeProcessHandle {
  pid: number;
  /** Present for each stdio stream given as 'pipe'. */
  stdout?: Readable;
  stderr?: Readable;
  /** Resolves when the process exits; undefined if its status could not be collected. */
  exited: Promise<ExitStatus | undefined>;
}

export const runtimeStateSchema = z.looseObject({
  ociVersion: z.string(),
  id: z.string(),
  pid: z.number().int().nonnegative(),
  status: z.enum(['creating', 'created', 'running', 'paused', 'stopped']),
  bundle: z.string(),
  rootfs: z.string().optional(),
  created: z.string().optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
});
export type RuntimeState = z.infer<typeof runtimeStateSchema>;

export interface OciRuntime {
  readonly name: 'runc' | 'crun';
  /** Sets the container up; its process exists but waits for start(). */
  create(id: string, opts: CreateOptions): Promise<RuntimeProcessHandle>;
  start(id: string): Promise<void>;
  /** NotFoundError when the runtime does not know `id`. */
  state(id: string): Promise<RuntimeState>;
  /** `signal` as a name (`SIGTERM`, `KILL`) or number; `all` signals every process in it. */
  kill(id: string, signal?: string | number, opts?: { all?: boolean }): Promise<void>;
  /** `force` kills a running container first and succeeds when `id` is already gone. */
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Freezes every process of the container (the cgroup freezer); resume() thaws them. */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Runs another process in a running container, detached from the runtime. */
  exec?(id: string, process: RuntimeProcess, opts?: ExecOptions): Promise<RuntimeProcessHandle>;
}

export interface RuntimeChoice {
  name: 'runc' | 'crun';
  binary: string;
}

const KNOWN: Record<'runc' | 'crun', readonly string[]> = {
  crun: ['/usr/bin/crun', '/usr/local/bin/crun', '/usr/sbin/crun'],
  runc: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/bin/runc', '/usr/local/sbin/runc'],
};

function installed(name: 'runc' | 'crun'): string | undefined {
  return KNOWN[name].find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * crun on a pure cgroup v2 host, runc where controllers live on v1 (crun refuses the hybrid
 * layout); either one when only it is installed.
 */
export function detectRuntime(cgroup: CgroupInfo = detectCgroup()): RuntimeChoice {
  const order: Array<'runc' | 'crun'> =
    cgroup.mode === 'unified' ? ['crun', 'runc'] : ['runc', 'crun'];
  for (const name of order) {
    const binary = installed(name);
    if (binary) return { name, binary };
  }
  throw new SystemError('no OCI runtime found: install crun or runc');
}

const RUN_TIMEOUT_MS = 60_000;

/**
 * Whether `<binary> run` takes `--keep` (keep the stopped container's state and cgroup, so its
 * OOM count can be read): runc does; crun only since 1.9 (Debian bookworm has 1.8).
 */
export function runSupportsKeep(binary: string): boolean {
  const help = spawnSync(binary, ['run', '--help'], { encoding: 'utf8', timeout: 15_000 });
  return `${help.stdout}${help.stderr}`.includes('--keep');
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The runc/crun CLI. `stateDir` is the runtime's `--root`; runtime log lines go to a JSON
 * log in it so they never mix with the container's own stderr.
 */
export class CliRuntime implements OciRuntime {
  readonly name: 'runc' | 'crun';
  private readonly binary: string;

  constructor(
    choice: RuntimeChoice,
    private readonly stateDir: string,
  ) {
    this.name = choice.name;
    this.binary = choice.binary;
  }

  private get logFile(): string {
    return join(this.stateDir, 'runtime.log');
  }

  private globalArgs(): string[] {
    return ['--root', this.stateDir, '--log', this.logFile, '--log-format', 'json'];
  }

  /** Runs one CLI command to completion (bounded), capturing its output. */
  private run(args: readonly string[]): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, [...this.globalArgs(), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({
          code,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  private fail(what: string, id: string, r: CliResult): never {
    const msg = (r.stderr.trim() || r.stdout.trim()).split('\n').pop() ?? '';
    if (/does not exist|not exist|no such/i.test(msg)) {
      throw new NotFoundError(`No such container: ${id}`);
    }
    throw new SystemError(`${this.name} ${what} ${id}: ${msg || `exit status ${r.code}`}`);
  }

  /**
   * Spawns a runtime command whose child keeps the given stdio (create, exec --detach), waits
   * for the runtime itself to exit, then reads the pid it wrote.
   */
  private async spawnDetached(
    what: string,
    id: string,
    args: string[],
    pidFile: string,
    stdio: ProcessStdio,
  ): Promise<RuntimeProcessHandle> {
    await mkdir(this.stateDir, { recursive: true });
    becomeSubreaper();
    await rm(pidFile, { force: true });
    const child: ChildProcess = spawn(this.binary, [...this.globalArgs(), ...args], {
      stdio: [stdio.stdin ?? 'ignore', stdio.stdout ?? 'ignore', stdio.stderr ?? 'ignore'],
    });
    // Consume the pipes at once: when the runtime exits, Node resumes (and so drops the data
    // of) any child stdio stream nobody reads yet, and an exec'd process may be done by then.
    const stdout = child.stdout?.pipe(new PassThrough());
    const stderr = child.stderr?.pipe(new PassThrough());
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      // 'exit', not 'close': the container keeps the pipes open after the runtime is gone.
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      const detail = await this.lastLogError();
      throw new SystemError(`${this.name} ${what} ${id}: ${detail ?? `exit status ${code}`}`);
    }
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new SystemError(`${this.name} ${what} ${id}: bad pid file`);
    }
    return {
      pid,
      ...(stdout ? { stdout } : {}),
      ...(stderr ? { stderr } : {}),
      exited: watchExit(pid),
    };
  }

  /** The last error the runtime logged (its JSON log: {"level":"error","msg":...}). */
  private async lastLogError(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.logFile, 'utf8');
    } catch {
      return undefined;
    }
    const line = z.looseObject({ level: z.string().optional(), msg: z.string().optional() });
    let last: string | undefined;
    for (const l of text.split('\n').slice(-50)) {
      try {
        const e = line.safeParse(JSON.parse(l));
        if (e.success && (e.data.level === 'error' || e.data.level === 'fatal') && e.data.msg) {
          last = e.data.msg;
        }
      } catch {
        // a partial or non-JSON line
      }
    }
    return last;
  }

  create(id: string, opts: CreateOptions): Promise<RuntimeProcessHandle> {
    const pidFile = join(opts.bundle, 'init.pid');
    const args = ['create', '--bundle', opts.bundle, '--pid-file', pidFile];
    if (opts.consoleSocket) args.push('--console-socket', opts.consoleSocket);
    args.push(id);
    return this.spawnDetached('create', id, args, pidFile, opts.stdio ?? {});
  }

  async start(id: string): Promise<void> {
    const r = await this.run(['start', id]);
    if (r.code !== 0) this.fail('start', id, r);
  }

  async state(id: string): Promise<RuntimeState> {
    const r = await this.run(['state', id]);
    if (r.code !== 0) this.fail('state', id, r);
    let data: unknown;
    try {
      data = JSON.parse(r.stdout);
    } catch {
      throw new SystemError(`${this.name} state ${id}: invalid JSON`);
    }
    const parsed = runtimeStateSchema.safeParse(data);
    if (!parsed.success) {
      throw new SystemError(`${this.name} state ${id}: ${parsed.error.message}`);
    }
    return parsed.data;
  }

  async kill(
    id: string,
    signal: string | number = 'SIGTERM',
    opts: { all?: boolean } = {},
  ): Promise<void> {
    const args = ['kill'];
    if (opts.all) args.push('--all');
    args.push(id, String(signal));
    const r = await this.run(args);
    if (r.code !== 0) this.fail('kill', id, r);
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const args = ['delete'];
    if (opts.force) args.push('--force');
    args.push(id);
    const r = await this.run(args);
    if (r.code === 0) return;
    try {
      this.fail('delete', id, r);
    } catch (e) {
      if (opts.force && e instanceof NotFoundError) return;
      throw e;
    }
  }

  async pause(id: string): Promise<void> {
    const r = await this.run(['pause', id]);
    if (r.code !== 0) this.fail('pause', id, r);
  }

  async resume(id: string): Promise<void> {
    const r = await this.run(['resume', id]);
    if (r.code !== 0) this.fail('resume', id, r);
  }

  /** The runtime binary, for callers that run it themselves (the container shim). */
  get path(): string {
    return this.binary;
  }

  async exec(
    id: string,
    process: RuntimeProcess,
    opts: ExecOptions = {},
  ): Promise<RuntimeProcessHandle> {
    const dir = join(this.stateDir, 'exec', id);
    await mkdir(dir, { recursive: true });
    const name = `${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
    const processFile = join(dir, `${name}.json`);
    const pidFile = join(dir, `${name}.pid`);
    await writeFile(processFile, JSON.stringify(process), { mode: 0o600 });
    const args = ['exec', '--process', processFile, '--detach', '--pid-file', pidFile];
    if (opts.consoleSocket) args.push('--console-socket', opts.consoleSocket);
    args.push(id);
    try {
      return await this.spawnDetached('exec', id, args, pidFile, opts.stdio ?? {});
    } finally {
      await rm(processFile, { force: true });
      await rm(pidFile, { force: true });
    }
  }
}

/** The runtime this host should use, keeping its state under `stateDir`. */
export function createRuntime(
  stateDir: string,
  choice: RuntimeChoice = detectRuntime(),
): OciRuntime {
  return new CliRuntime(choice, stateDir);
}
