/**
 * `docker top`: the host's `ps` with the caller's arguments, its lines filtered to the
 * processes in the container's cgroup — moby's ContainerTop and parsePSOutput.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, SystemError } from '../api/errors.js';
import type { ContainerView } from './service.js';

/** Host directories of a process's cgroups: controller (or "" for v2) → directory. */
export function cgroupDirs(pid: number, root = '/sys/fs/cgroup'): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return out;
  }
  const unified = (() => {
    try {
      readFileSync(join(root, 'cgroup.controllers'));
      return true;
    } catch {
      return false;
    }
  })();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, controllers = '', path = ''] = m;
    if (controllers === '') {
      out.set('', unified ? join(root, path) : join(root, 'unified', path));
      continue;
    }
    for (const c of controllers.split(',')) {
      if (c.startsWith('name=')) continue;
      out.set(c, join(root, c, path));
    }
  }
  return out;
}

/** Pids (tgids) in the container's cgroup; just the init when it cannot be read. */
export function containerPids(initPid: number): number[] {
  const dirs = cgroupDirs(initPid);
  for (const key of ['pids', 'memory', 'cpu', 'freezer', '']) {
    const dir = dirs.get(key);
    if (!dir) continue;
    try {
      const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      if (pids.length > 0) return pids;
    } catch {
      // controller not there: try the next
    }
  }
  return [initPid];
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** moby's parsePSOutput: columns split on blanks, the last one keeps the rest (the command). */
export function parsePsOutput(output: string, pids: readonly number[]): TopResult {
  const lines = output.split('\n');
  const titles = (lines[0] ?? '').trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const pid = Number(fields[pidIndex]);
    if (!Number.isInteger(pid)) throw new SystemError(`Unexpected pid '${fields[pidIndex] ?? ''}'`);
    if (!wanted.has(pid)) continue;
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(' '));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

/** GET /containers/{id}/top?ps_args= */
export async function containerTop(view: ContainerView, psArgs = '-ef'): Promise<TopResult> {
  if (!view.running || view.pid <= 0)
    throw new ConflictError(`Container ${view.id} is not running`);
  if (view.record.State.Restarting) {
    throw new ConflictError(
      `Container ${view.id} is restarting, wait until the container is running`,
    );
  }
  if (psArgs.includes('\0')) throw new InvalidParameterError('invalid ps arguments');
  const args = psArgs.trim() === '' ? [] : psArgs.trim().split(/\s+/);
  const pids = containerPids(view.pid);
  const output = await new Promise<string>((resolve, reject) => {
    execFile('ps', args, { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new SystemError(`Error running ps: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
  return parsePsOutput(output, pids);
}
