/**
 * Child processes and temp dirs for tests, always bounded: every command has a timeout, every
 * wait a deadline, and every daemon started here is killed when the test process exits even if
 * a test forgot to stop it.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Milliseconds before the command is killed with SIGKILL. */
  timeoutMs?: number;
}

/** Runs a command to completion; never rejects on a non-zero exit, only on a spawn failure. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      err.push(Buffer.from(`\n[killed after ${opts.timeoutMs} ms]\n`));
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run(), but throws with the command's stderr when it exits non-zero. */
export async function runOk(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return r;
}

const daemons = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of daemons) child.kill('SIGKILL');
});

/** Marks a long-running child so it dies with the test process. */
export function trackDaemon(child: ChildProcess): void {
  daemons.add(child);
  child.once('exit', () => daemons.delete(child));
}

/** A daemon started by spawnDaemon(), with what it printed. */
export interface Daemon {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Its stdout and stderr interleaved, the first `maxOutput` characters. */
  output: () => string;
}

/** Spawns a long-running child that dies with the test process, keeping what it prints. */
export function spawnDaemon(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; maxOutput?: number } = {},
): Daemon {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  trackDaemon(child);
  const max = opts.maxOutput ?? 1_000_000;
  let output = '';
  const collect = (b: Buffer) => {
    if (output.length < max) output += b.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return { child, output: () => output };
}

/** Sends a signal and waits (bounded) for the child to exit; escalates to SIGKILL. */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Returns a reason to stop waiting at once (e.g. the daemon exited), or undefined. */
  giveUp?: () => string | undefined;
}

/** Polls `probe` until it returns true; throws after the timeout or when `giveUp` says so. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  { timeoutMs = 15_000, intervalMs = 50, giveUp }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const reason = giveUp?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** `p`, or a rejection naming `what` once `ms` have passed. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** All a stream carries until it closes, as UTF-8 ('' for no stream). */
export function collect(stream: Readable | undefined | null): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b));
    stream.once('error', reject);
    stream.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Calls `fn` until it resolves and returns its value; throws its last error after the timeout. */
export async function retry<T>(
  what: string,
  fn: () => Promise<T>,
  { timeoutMs = 15_000, intervalMs = 200 }: Omit<WaitOptions, 'giveUp'> = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A fresh directory under os.tmpdir(); `remove()` deletes it and everything in it. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** One temp dir for the whole test process: made on the first call, removed when it exits. */
export function processTempDir(prefix: string): () => string {
  let dir: string | undefined;
  return () => {
    if (dir === undefined) {
      const made = tempDir(prefix);
      process.once('exit', () => made.remove());
      dir = made.path;
    }
    return dir;
  };
}
