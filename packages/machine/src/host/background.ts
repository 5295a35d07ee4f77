/**
 * The machine's host side in a background process: `berth machine start` (and the desktop app,
 * if it prefers not to hold the VM in its own process) spawns `host-main.js`, which runs
 * Machine.start() and keeps the host socket and ports until SIGTERM or until the VM exits. Its
 * events are appended to `<machine>/host.log` as JSON lines, which is how the starter follows
 * the progress.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { MachineEvent } from '../machine.js';
import { berthPaths } from '../paths.js';
import { livePid } from '../util/process.js';
import { tailLines } from '../util/tail.js';

export const HOST_MAIN = fileURLToPath(new URL('./host-main.js', import.meta.url));

const HostLogLineSchema = z.object({
  time: z.string(),
  event: z.looseObject({ type: z.string() }),
});

export interface BackgroundStartOptions {
  name: string;
  root: string;
  /** Milliseconds until the host reports running or error. */
  timeoutMs?: number;
  onEvent?: (event: MachineEvent) => void;
}

/**
 * Starts the host process (unless one already serves this machine) and follows its events
 * until the machine runs; rejects with the host's error.
 */
export async function startInBackground(opts: BackgroundStartOptions): Promise<void> {
  const paths = berthPaths(opts.root).machine(opts.name);
  if (livePid(paths.hostPid) !== undefined) return;
  const from = existsSync(paths.hostLog) ? statSync(paths.hostLog).size : 0;
  mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  const out = openSync(paths.hostLog, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [HOST_MAIN, '--name', opts.name, '--root', opts.root], {
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    closeSync(out);
  }
  child.unref();
  await new Promise<void>((resolve, reject) => {
    let offset = 0;
    const timer = setTimeout(
      () => done(new Error(`the machine did not start in ${opts.timeoutMs ?? 300_000} ms`)),
      opts.timeoutMs ?? 300_000,
    );
    const exited = () => {
      // What it printed before dying (an uncaught error) says more than its exit code.
      let output = '';
      try {
        output = readFileSync(paths.hostLog, 'utf8')
          .slice(from)
          .trim()
          .split('\n')
          .slice(-15)
          .join('\n');
      } catch {
        output = '';
      }
      done(
        new Error(
          `the host process exited (${child.exitCode ?? child.signalCode}); see ${paths.hostLog}${output ? `\n${output}` : ''}`,
        ),
      );
    };
    child.once('exit', exited);
    const tail = tailLines(paths.hostLog, (line) => {
      offset += Buffer.byteLength(line) + 1;
      if (offset <= from) return;
      const event = parseHostLogLine(line);
      if (!event) return;
      opts.onEvent?.(event);
      if (event.type === 'state' && event.state === 'running') done(undefined);
      if (event.type === 'state' && (event.state === 'error' || event.state === 'stopped')) {
        done(new Error(event.message ?? `the machine is ${event.state}`));
      }
    });
    function done(err: Error | undefined) {
      clearTimeout(timer);
      tail.close();
      child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    }
  });
}

export function parseHostLogLine(line: string): MachineEvent | undefined {
  try {
    const parsed = HostLogLineSchema.safeParse(JSON.parse(line));
    return parsed.success ? (parsed.data.event as MachineEvent) : undefined;
  } catch {
    return undefined;
  }
}

export function formatHostLogLine(event: MachineEvent): string {
  return `${JSON.stringify({ time: new Date().toISOString(), event })}\n`;
}
