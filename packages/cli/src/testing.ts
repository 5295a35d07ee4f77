/** Runs the built `berth` CLI (or the docker CLI) as a user would, with a bounded time and its own HOME. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BERTH_JS = fileURLToPath(new URL('./berth.js', import.meta.url));

export interface BerthResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function runBounded(
  command: string,
  args: readonly string[],
  label: string,
  opts: RunOptions,
): Promise<BerthResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also kills the docker CLI it runs (which holds the pipes).
    const child = spawn(command, args, {
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[${label} ${args.join(' ')} killed after ${opts.timeoutMs ?? 60_000} ms]`;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function berth(args: readonly string[], opts: RunOptions): Promise<BerthResult> {
  return runBounded(process.execPath, [BERTH_JS, ...args], 'berth', opts);
}

/** The real docker CLI, as a user types it after `berth machine start`. */
export function docker(args: readonly string[], opts: RunOptions): Promise<BerthResult> {
  return runBounded('docker', args, 'docker', opts);
}

/** `commandLine` in a terminal of its own (util-linux `script`), as `-it` needs. */
export function inTerminal(commandLine: string, opts: RunOptions): Promise<BerthResult> {
  return runBounded('script', ['-qec', commandLine, '/dev/null'], 'script', opts);
}

export function describeRun(args: readonly string[], r: BerthResult, command = 'berth'): string {
  return `${command} ${args.join(' ')} → exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
