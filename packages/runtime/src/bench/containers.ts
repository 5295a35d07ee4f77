/**
 * The container benchmarks of issue 4, each against a floor measured in the same run:
 *
 * - `docker run --rm busybox true` through berthd (real docker CLI), against raw `runc run` of a
 *   prepared bundle plus one `docker version` round trip to the same berthd; the same lifecycle
 *   over the raw API (create, start, wait, delete with node:http) to separate CLI from engine
 *   cost; where Debian's dockerd starts, the same commands against it as the peer.
 * - `docker ps -a` with 100 created containers against `docker version`; 10 `docker run -d` in
 *   parallel; berthd's VmRSS idle and with the 100 containers.
 *
 * The ways are interleaved within each repetition so a machine whose load drifts (a shared
 * one) biases none of them; medians, min/max and the spread are reported.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { detectCgroup } from '../containers/cgroups.js';
import { detectRuntime } from '../containers/oci-runtime.js';
import { buildSpec } from '../containers/oci-spec.js';
import { makeBusyboxRootfs } from '../containers/test-rootfs.js';
import { startBerthd, unmountUnder, type Berthd } from '../testing/berthd.js';
import { docker } from '../testing/docker-cli.js';
import { run, stopChild, tempDir, trackDaemon, waitFor } from '../testing/process.js';
import { startRegistry } from '../testing/registry.js';
import { socketRequest } from '../testing/socket-http.js';
import { pushTestImage } from '../testing/test-images.js';
import { median } from './pull.js';

// ---- pure helpers (unit-tested) ----------------------------------------------------------

export interface Summary {
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median: how noisy the runs were. */
  spread: number;
}

export function summarize(runs: readonly number[]): Summary {
  const m = median(runs);
  const min = runs.length ? Math.min(...runs) : 0;
  const max = runs.length ? Math.max(...runs) : 0;
  return { runs: [...runs], median: m, min, max, spread: m > 0 ? (max - min) / m : 0 };
}

/** VmRSS of a /proc/<pid>/status text, in KiB, or undefined. */
export function parseVmRssKiB(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

export type ApiPhase = 'ping' | 'version' | 'create' | 'attach' | 'start' | 'wait' | 'delete';

/** Which lifecycle call a request line of berthd.log is (`/v1.41/containers/abc/start?…`). */
export function apiPhase(method: string, path: string): ApiPhase | undefined {
  const p = path.replace(/^\/v\d+\.\d+/, '').replace(/\?.*$/, '');
  if (p === '/_ping') return 'ping';
  if (p === '/version') return 'version';
  if (method === 'POST' && p === '/containers/create') return 'create';
  const m = /^\/containers\/[^/]+(\/[a-z]+)?$/.exec(p);
  if (!m) return undefined;
  if (method === 'DELETE' && m[1] === undefined) return 'delete';
  if (method === 'POST' && m[1] === '/attach') return 'attach';
  if (method === 'POST' && m[1] === '/start') return 'start';
  if (method === 'POST' && m[1] === '/wait') return 'wait';
  return undefined;
}

const requestLine = z.looseObject({
  msg: z.literal('request'),
  method: z.string(),
  path: z.string(),
  ms: z.number(),
});

/** Milliseconds per lifecycle call in a slice of berthd.log (summed when a call repeats). */
export function phasesFromLog(text: string): Partial<Record<ApiPhase, number>> {
  const out: Partial<Record<ApiPhase, number>> = {};
  for (const line of text.split('\n')) {
    if (!line.includes('"request"')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const r = requestLine.safeParse(parsed);
    if (!r.success) continue;
    const phase = apiPhase(r.data.method, r.data.path);
    if (phase) out[phase] = (out[phase] ?? 0) + r.data.ms;
  }
  return out;
}

// ---- result shape ------------------------------------------------------------------------

export type RunWay =
  | 'runcRun'
  | 'berthdVersion'
  | 'berthdRunRm'
  | 'berthdRunRmNoNet'
  | 'apiLifecycle'
  | 'dockerdVersion'
  | 'dockerdRunRm';

/** Where one raw-API lifecycle spent its time (client side, and from container-dir mtimes). */
export interface ApiBreakdown {
  create: number;
  start: number;
  wait: number;
  delete: number;
  /** start request sent → config.json written: rootfs mount, network sandbox, spec. */
  prepare: number;
  /** config.json → runc.pid: the shim and `runc run` creating and starting the container. */
  runcStart: number;
  /** runc.pid → exit file: `true` running and runc tearing down. */
  running: number;
  /** exit file → wait answered: berthd noticing the exit, unmount, sandbox release, state saved (and `runc delete` when the run was kept). */
  finish: number;
}

export interface ContainersBenchResult {
  image: string;
  repetitions: number;
  /** os.loadavg() at the start and the end: how loaded the machine was. */
  load: { start: number[]; end: number[] };
  run: Partial<Record<RunWay, Summary>>;
  /** Medians of the raw-API breakdown. */
  apiBreakdown: ApiBreakdown;
  /** Medians of the per-call request times berthd logged for `docker run --rm` (CLI). */
  cliBreakdown: Partial<Record<ApiPhase, number>>;
  floorMs: number;
  ratios: {
    cliVsFloor: number;
    apiVsFloor: number;
    /** berthd / dockerd for `run --rm` without a network on both (dockerd has --bridge=none). */
    berthdVsDockerd?: number;
  };
  targets: { vsFloor: number; vsDockerd: number };
  /** Why the dockerd peer did not run, when it did not. */
  peerSkipped?: string;
  scale: {
    containers: number;
    /** Wall time of `docker create` × containers (4 CLIs at a time). */
    createAllMs: number;
    ps: Summary;
    version: Summary;
    psVsVersion: number;
    parallel: number;
    parallelRunD: Summary;
    singleRunD: Summary;
    rssKiB: { fresh: number; idle: number; withContainers: number; withParallelRunning: number };
  };
  node: string;
  date: string;
}

const TIMEOUT = 120_000;

function elapsed(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

async function cliMs(host: string, args: readonly string[]): Promise<number> {
  const started = process.hrtime.bigint();
  const r = await docker(args, { host, timeoutMs: TIMEOUT });
  const ms = elapsed(started);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return ms;
}

function rssKiB(pid: number): number {
  return parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8')) ?? 0;
}

/** RSS after a short settle: the median of 5 samples 100 ms apart. */
async function settledRssKiB(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 100));
    samples.push(rssKiB(pid));
  }
  return median(samples);
}

/** Removes the (empty) cgroup `name` from every hierarchy; runc leaves the shared parent. */
function removeCgroupParent(name: string): void {
  const root = '/sys/fs/cgroup';
  for (const dir of [root, ...readdirSync(root).map((d) => join(root, d))]) {
    try {
      rmdirSync(join(dir, name));
    } catch {
      // not a hierarchy, not ours, or already gone
    }
  }
}

// ---- the floor: runc run of a prepared bundle --------------------------------------------

const FLOOR_CGROUP = 'berth-bench-floor';

interface RuncFloor {
  run(): Promise<number>;
  remove(): void;
}

function prepareRuncFloor(): RuncFloor {
  const cgroup = detectCgroup();
  const binary = detectRuntime(cgroup).binary;
  const tmp = tempDir('bench-runc');
  const rootfs = makeBusyboxRootfs(tmp.path);
  const state = join(tmp.path, 'state');
  return {
    run: async () => {
      const id = `berth-bench-${randomBytes(6).toString('hex')}`;
      const bundle = join(tmp.path, id);
      mkdirSync(bundle);
      const spec = await buildSpec({
        id,
        rootfs,
        config: { Cmd: ['true'] },
        cgroupsPath: `/${FLOOR_CGROUP}/${id}`,
        cgroup,
      });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
      const started = process.hrtime.bigint();
      const r = await run(binary, ['--root', state, 'run', '--bundle', bundle, id], {
        timeoutMs: TIMEOUT,
      });
      const ms = elapsed(started);
      if (r.code !== 0) {
        await run(binary, ['--root', state, 'delete', '-f', id], { timeoutMs: 30_000 });
        throw new Error(`runc run exited ${r.code ?? r.signal}: ${r.stderr}`);
      }
      rmSync(bundle, { recursive: true, force: true });
      return ms;
    },
    remove: () => {
      tmp.remove();
      removeCgroupParent(FLOOR_CGROUP);
    },
  };
}

// ---- the raw API path --------------------------------------------------------------------

const createdSchema = z.looseObject({ Id: z.string() });
const waitSchema = z.looseObject({ StatusCode: z.number() });

async function api(
  socket: string,
  method: string,
  path: string,
  expect: number,
  body?: unknown,
): Promise<string> {
  const r = await socketRequest(socket, `/v1.41${path}`, {
    method,
    timeoutMs: TIMEOUT,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return r.body;
}

function mtimeMs(path: string): number {
  return statSync(path).mtimeMs;
}

/** create + start + wait + delete over the socket; the total and where the time went. */
async function apiLifecycle(
  berthd: Berthd,
  image: string,
): Promise<{ total: number; breakdown: ApiBreakdown }> {
  const t0 = process.hrtime.bigint();
  const { Id: id } = createdSchema.parse(
    JSON.parse(
      await api(berthd.socket, 'POST', '/containers/create', 201, {
        Image: image,
        Cmd: ['true'],
        HostConfig: { NetworkMode: 'default' },
      }),
    ),
  );
  const create = elapsed(t0);
  const startSentAt = performance.timeOrigin + performance.now();
  const t1 = process.hrtime.bigint();
  await api(berthd.socket, 'POST', `/containers/${id}/start`, 204);
  const start = elapsed(t1);
  const t2 = process.hrtime.bigint();
  const waited = waitSchema.parse(
    JSON.parse(await api(berthd.socket, 'POST', `/containers/${id}/wait`, 200)),
  );
  const waitedAt = performance.timeOrigin + performance.now();
  const wait = elapsed(t2);
  if (waited.StatusCode !== 0) throw new Error(`container exited ${waited.StatusCode}`);
  const dir = join(berthd.dataRoot, 'containers', id);
  const spec = mtimeMs(join(dir, 'config.json'));
  const pid = mtimeMs(join(dir, 'runc.pid'));
  const exit = mtimeMs(join(dir, 'exit'));
  const t3 = process.hrtime.bigint();
  await api(berthd.socket, 'DELETE', `/containers/${id}`, 204);
  const del = elapsed(t3);
  return {
    total: elapsed(t0),
    breakdown: {
      create,
      start,
      wait,
      delete: del,
      prepare: spec - startSentAt,
      runcStart: pid - spec,
      running: exit - pid,
      finish: waitedAt - exit,
    },
  };
}

// ---- the peer: Debian's dockerd on a private socket --------------------------------------

export interface Peer {
  host: string;
  stop(): Promise<void>;
}

const PEER_CGROUP = 'berth-bench-dockerd';
const DOCKERD = '/usr/sbin/dockerd';

/**
 * dockerd (with its own managed containerd) on a private socket, data root and exec root; no
 * bridge, no iptables, no forwarding changes, containers under a cgroup parent of ours. Files
 * dockerd creates outside its roots (/etc/docker/key.json, /run/docker) are removed on stop.
 * Resolves with the reason when it cannot start here.
 */
export async function startDockerd(log: (l: string) => void): Promise<Peer | string> {
  if (!existsSync(DOCKERD)) return `${DOCKERD} is not installed`;
  if (process.getuid?.() !== 0) return 'dockerd needs root';
  const outside = ['/etc/docker/key.json', '/run/docker', '/etc/docker'].filter(
    (p) => !existsSync(p),
  );
  const tmp = tempDir('bench-dockerd');
  const socket = join(tmp.path, 'docker.sock');
  const execRoot = join(tmp.path, 'exec');
  const child = spawn(
    DOCKERD,
    [
      '-H',
      `unix://${socket}`,
      '--data-root',
      join(tmp.path, 'data'),
      '--exec-root',
      execRoot,
      '--pidfile',
      join(tmp.path, 'dockerd.pid'),
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
      '--cgroup-parent',
      PEER_CGROUP,
      '--storage-driver=overlay2',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  trackDaemon(child);
  let output = '';
  const collect = (b: Buffer) => {
    if (output.length < 1_000_000) output += b.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const stop = async () => {
    await stopChild(child, 'SIGTERM', 20_000);
    // A dockerd that had to be killed leaves its managed containerd behind.
    const ctrPid = Number(readFileOr(join(execRoot, 'containerd', 'containerd.pid')));
    if (Number.isInteger(ctrPid) && ctrPid > 0 && isProcess(ctrPid, 'containerd')) {
      process.kill(ctrPid, 'SIGKILL');
    }
    await unmountUnder(tmp.path);
    tmp.remove();
    for (const p of outside) rmSync(p, { recursive: true, force: true });
    removeCgroupParent(PEER_CGROUP);
  };
  const host = `unix://${socket}`;
  try {
    await waitFor(
      'dockerd',
      async () => existsSync(socket) && (await docker(['version'], { host })).code === 0,
      {
        timeoutMs: 40_000,
        intervalMs: 250,
        giveUp: () =>
          child.exitCode === null && child.signalCode === null
            ? undefined
            : `dockerd exited (${child.exitCode ?? child.signalCode})`,
      },
    );
  } catch (e) {
    await stop();
    const tail = output.trim().split('\n').slice(-5).join('\n');
    return `${e instanceof Error ? e.message : String(e)}\n${tail}`;
  }
  log(`dockerd peer up (pid ${child.pid ?? '?'})`);
  return { host, stop };
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function isProcess(pid: number, name: string): boolean {
  return readFileOr(`/proc/${pid}/comm`) === name;
}

// ---- the benchmark -----------------------------------------------------------------------

export interface ContainersBenchOptions {
  /** Repetitions of each `run --rm` way and of ps/version (interleaved). */
  repetitions: number;
  /** Repetitions of the 10-parallel `run -d` (each one starts 10 containers). */
  parallelRepetitions?: number;
  containers?: number;
  parallel?: number;
  /** Start dockerd as the peer where possible (default true). */
  peer?: boolean;
  log?: (line: string) => void;
}

export async function runContainersBench(
  opts: ContainersBenchOptions,
): Promise<ContainersBenchResult> {
  const log = opts.log ?? (() => undefined);
  const reps = opts.repetitions;
  const count = opts.containers ?? 100;
  const parallel = opts.parallel ?? 10;
  const loadStart = loadavg();
  const floor = prepareRuncFloor();
  const registry = await startRegistry().catch((e: unknown) => {
    floor.remove();
    throw e;
  });
  let berthd: Berthd | undefined;
  let peer: Peer | undefined;
  let peerSkipped: string | undefined;
  const leftovers = new Set<string>();
  try {
    const { ref } = await pushTestImage(registry.host, 'busybox');
    berthd = await startBerthd();
    const b = berthd;
    const bh = b.dockerHost;
    await cliMs(bh, ['pull', ref]);
    const rssFresh = await settledRssKiB(b.pid);

    if (opts.peer !== false) {
      const started = await startDockerd(log);
      if (typeof started === 'string') {
        peerSkipped = started;
        log(`dockerd peer skipped: ${started}`);
      } else {
        peer = started;
        await cliMs(peer.host, ['pull', ref]);
      }
    }

    // ---- docker run --rm ----
    const runs: Record<RunWay, number[]> = {
      runcRun: [],
      berthdVersion: [],
      berthdRunRm: [],
      berthdRunRmNoNet: [],
      apiLifecycle: [],
      dockerdVersion: [],
      dockerdRunRm: [],
    };
    const breakdowns: ApiBreakdown[] = [];
    const cliPhases: Array<Partial<Record<ApiPhase, number>>> = [];
    const logFile = join(b.dataRoot, 'berthd.log');
    const logSize = () => (existsSync(logFile) ? statSync(logFile).size : 0);
    const sinceOffset = (offset: number) => readFileSync(logFile).subarray(offset).toString('utf8');
    const ph = peer?.host;
    // Warm-up: page cache, the CLI binary, berthd's JIT.
    await floor.run();
    await cliMs(bh, ['run', '--rm', ref, 'true']);
    await apiLifecycle(b, ref);
    if (ph) await cliMs(ph, ['run', '--rm', ref, 'true']);
    for (let i = 1; i <= reps; i++) {
      runs.runcRun.push(await floor.run());
      runs.berthdVersion.push(await cliMs(bh, ['version']));
      const offset = logSize();
      runs.berthdRunRm.push(await cliMs(bh, ['run', '--rm', ref, 'true']));
      cliPhases.push(phasesFromLog(sinceOffset(offset)));
      runs.berthdRunRmNoNet.push(
        await cliMs(bh, ['run', '--rm', '--network', 'none', ref, 'true']),
      );
      const a = await apiLifecycle(b, ref);
      runs.apiLifecycle.push(a.total);
      breakdowns.push(a.breakdown);
      if (ph) {
        runs.dockerdVersion.push(await cliMs(ph, ['version']));
        runs.dockerdRunRm.push(await cliMs(ph, ['run', '--rm', ref, 'true']));
      }
      const f = (w: RunWay) => runs[w][i - 1]?.toFixed(0) ?? '-';
      log(
        `run ${i}: runc ${f('runcRun')}, version ${f('berthdVersion')}, run --rm ${f('berthdRunRm')} ` +
          `(no net ${f('berthdRunRmNoNet')}), API ${f('apiLifecycle')}` +
          (ph ? `; dockerd version ${f('dockerdVersion')}, run --rm ${f('dockerdRunRm')}` : '') +
          ` ms`,
      );
    }
    if (peer) {
      await peer.stop();
      peer = undefined;
    }
    const run: Partial<Record<RunWay, Summary>> = {};
    for (const [way, xs] of Object.entries(runs) as Array<[RunWay, number[]]>) {
      if (xs.length) run[way] = summarize(xs);
    }
    const m = (w: RunWay) => run[w]?.median ?? NaN;
    const floorMs = m('runcRun') + m('berthdVersion');
    const apiBreakdown = Object.fromEntries(
      (Object.keys(breakdowns[0] ?? {}) as Array<keyof ApiBreakdown>).map((k) => [
        k,
        median(breakdowns.map((x) => x[k])),
      ]),
    ) as unknown as ApiBreakdown;
    const cliBreakdown: Partial<Record<ApiPhase, number>> = {};
    for (const p of ['ping', 'create', 'attach', 'start', 'wait'] as const) {
      const xs = cliPhases.map((x) => x[p]).filter((x): x is number => x !== undefined);
      if (xs.length) cliBreakdown[p] = median(xs);
    }

    // ---- 100 containers: ps -a, memory ----
    const rssIdle = await settledRssKiB(b.pid);
    const created: string[] = [];
    const t = process.hrtime.bigint();
    for (let i = 0; i < count; i += 4) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(4, count - i) }, async () => {
          const r = await docker(['create', ref, 'true'], { host: bh, timeoutMs: TIMEOUT });
          if (r.code !== 0) throw new Error(`docker create: ${r.stderr}`);
          return r.stdout.trim();
        }),
      );
      for (const id of batch) {
        created.push(id);
        leftovers.add(id);
      }
    }
    const createAllMs = elapsed(t);
    log(`created ${count} containers in ${createAllMs.toFixed(0)} ms`);
    const rssWith = await settledRssKiB(b.pid);
    const ps: number[] = [];
    const version: number[] = [];
    await cliMs(bh, ['ps', '-a']);
    for (let i = 0; i < reps; i++) {
      version.push(await cliMs(bh, ['version']));
      ps.push(await cliMs(bh, ['ps', '-a']));
    }
    const listed = (await docker(['ps', '-aq'], { host: bh })).stdout.trim().split('\n');
    if (listed.length !== count) throw new Error(`docker ps -a listed ${listed.length}`);
    log(`ps -a: ${ps.map((x) => x.toFixed(0)).join(', ')} ms`);
    for (let i = 0; i < created.length; i += 25) {
      const ids = created.slice(i, i + 25);
      const r = await docker(['rm', ...ids], { host: bh, timeoutMs: TIMEOUT });
      if (r.code !== 0) throw new Error(`docker rm: ${r.stderr}`);
      for (const id of ids) leftovers.delete(id);
    }

    // ---- 10 docker run -d in parallel ----
    const single: number[] = [];
    const wall: number[] = [];
    let rssRunning = 0;
    for (let i = 0; i < (opts.parallelRepetitions ?? reps); i++) {
      const s0 = process.hrtime.bigint();
      const one = await docker(['run', '-d', ref, 'sleep', '30'], { host: bh, timeoutMs: TIMEOUT });
      single.push(elapsed(s0));
      if (one.code !== 0) throw new Error(`docker run -d: ${one.stderr}`);
      leftovers.add(one.stdout.trim());
      const p0 = process.hrtime.bigint();
      const ids = await Promise.all(
        Array.from({ length: parallel }, async () => {
          const r = await docker(['run', '-d', ref, 'sleep', '30'], {
            host: bh,
            timeoutMs: TIMEOUT,
          });
          if (r.code === 0) leftovers.add(r.stdout.trim());
          return r;
        }),
      );
      wall.push(elapsed(p0));
      const failed = ids.find((r) => r.code !== 0);
      if (failed) throw new Error(`docker run -d: ${failed.stderr}`);
      if (i === 0) rssRunning = await settledRssKiB(b.pid);
      const all = [...leftovers];
      const r = await docker(['rm', '-f', ...all], { host: bh, timeoutMs: TIMEOUT });
      if (r.code !== 0) throw new Error(`docker rm -f: ${r.stderr}`);
      leftovers.clear();
      log(
        `run -d: one ${single[i]?.toFixed(0)} ms, ${parallel} in parallel ${wall[i]?.toFixed(0)} ms`,
      );
    }

    const psS = summarize(ps);
    const versionS = summarize(version);
    const ratio = (a: number, c: number) => a / c;
    return {
      image: ref,
      repetitions: reps,
      load: { start: loadStart, end: loadavg() },
      run,
      apiBreakdown,
      cliBreakdown,
      floorMs,
      ratios: {
        cliVsFloor: ratio(m('berthdRunRm'), floorMs),
        apiVsFloor: ratio(m('apiLifecycle'), floorMs),
        ...(run.dockerdRunRm
          ? { berthdVsDockerd: ratio(m('berthdRunRmNoNet'), m('dockerdRunRm')) }
          : {}),
      },
      targets: { vsFloor: 2, vsDockerd: 0.5 },
      ...(peerSkipped === undefined ? {} : { peerSkipped }),
      scale: {
        containers: count,
        createAllMs,
        ps: psS,
        version: versionS,
        psVsVersion: psS.median / versionS.median,
        parallel,
        parallelRunD: summarize(wall),
        singleRunD: summarize(single),
        rssKiB: {
          fresh: rssFresh,
          idle: rssIdle,
          withContainers: rssWith,
          withParallelRunning: rssRunning,
        },
      },
      node: process.version,
      date: new Date().toISOString(),
    };
  } finally {
    if (berthd && leftovers.size > 0) {
      await docker(['rm', '-f', ...leftovers], { host: berthd.dockerHost }).catch(() => undefined);
    }
    await peer?.stop();
    await berthd?.stop();
    await registry.stop();
    floor.remove();
  }
}
