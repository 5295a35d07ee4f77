/**
 * The VM bench of issue 5, every number against a floor or peer measured in the same run:
 *
 * - boot to engine-ready (QEMU launched → first `/_ping` answered through the machine's host
 *   socket) against two floors booted by the same driver with the same kernel: the full image
 *   running `node -e 0` instead of the agent (berthd's own start-up cost is the difference),
 *   and a bare busybox initramfs whose init is the shell (see floors.ts);
 * - with berthd idle: memory used in the guest (MemTotal − MemAvailable), QEMU's VmRSS, and
 *   QEMU's CPU over an idle window;
 * - throughput of one published port: Berth's forwarder (under QEMU: the hostfwd it asks QEMU
 *   for; other drivers: host 127.0.0.1:PORT → ssh2 → agent) against a hostfwd of the same guest
 *   port that the bench adds itself through QMP;
 * - `docker run --rm busybox true` through the bridge against berthd running natively.
 *
 * `parts` (BENCH_VM_PARTS in scripts/bench.mjs) runs a subset: without `boot` the engine
 * machine boots once and no floor is made.
 *
 * Every VM runs under a temp root with TCG (the accelerator these machines can use) and is
 * stopped and deleted at the end, also on error. Traffic stays on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QEMU_USER_NET_HOST, parseStageLine } from '@berth/vm-image/protocol';
import type { AgentLink } from '../bridge/agent-link.js';
import { qmpExecute } from '../drivers/qemu/qmp.js';
import { qemuDriver } from '../drivers/qemu/qemu.js';
import { defaultImageDir, imageFromDir } from '../image.js';
import { Machine, type MachineEvent } from '../machine.js';
import { engineClientHost } from '../paths.js';
import { hostArch, type GuestImage } from '../settings.js';
import { ensureTestGuestImage, qemuSkip } from '../testing/guest-image.js';
import { freePort } from '../util/process.js';
import { sleep, waitUntil } from '../util/wait.js';
import { parseVmRssKiB, summarize, type Summary } from '../../../runtime/dist/bench/containers.js';
import { startBerthd, type Berthd } from '../../../runtime/dist/testing/berthd.js';
import { docker } from '../../../runtime/dist/testing/docker-cli.js';
import { engineTestSkip } from '../../../runtime/dist/testing/engine-env.js';
import { startRegistry, type Registry } from '../../../runtime/dist/testing/registry.js';
import { pushTestImage } from '../../../runtime/dist/testing/test-images.js';
import { busyboxFloorImage, nodeFloorImage, parseFloorLine } from './floors.js';
import { cpuPercent, cpuTicks, usedMemoryKiB, verdict, type Verdict } from './measure.js';

export const VM_TARGETS = {
  /** engine-ready / node-floor boot. */
  engineVsNodeFloor: 1.3,
  /** MemTotal − MemAvailable with berthd idle, MB. */
  guestUsedMB: 150,
  /** forwarder / hostfwd throughput. */
  forwarderVsHostfwd: 1,
} as const;

export const VM_BENCH_PARTS = ['boot', 'idle', 'throughput', 'run-rm'] as const;
export type VmBenchPart = (typeof VM_BENCH_PARTS)[number];

export interface VmBenchResult {
  date: string;
  parts: VmBenchPart[];
  load: { start: number[]; end: number[] };
  image: { key: string; dir: string };
  accelerator: string;
  cpus: number;
  memoryMiB: number;
  repetitions: number;
  /** Wall ms from launching QEMU; guest uptime in s where the guest reported it. */
  boot?: {
    busybox: Summary;
    node: Summary;
    engine: Summary;
    /** The first boot of a fresh machine (formats the data disk, fills Node's code cache). */
    engineFirstMs: number;
    guestUptime: { busybox: Summary; node: Summary; engineReady: Summary };
    /** Median wall ms from launch at which each boot stage appeared (warm engine boots). */
    stages: Record<string, number>;
  };
  idle?: {
    guestUsedMB: number;
    /** VmRSS of the guest's Node processes by script, and tmpfs (`shmem`), MB. */
    guestRssMB: Record<string, number>;
    qemuRssMB: number;
    cpuPercent: number;
    windowSeconds: number;
  };
  throughput?: {
    bytes: number;
    forwarderMBps: Summary;
    hostfwdMBps: Summary;
    /** The host process listening on the forwarded port (`ss`), e.g. "qemu-system-x86". */
    forwarderListener: string;
    /**
     * The agent path (127.0.0.1 → ssh2 → agent → container) that drivers without a native
     * forward use, on a second port bound to the guest's loopback (which QEMU cannot reach).
     */
    sshPathMBps: Summary;
    /** forwarder / hostfwd of each interleaved pair (the load drifts less within a pair). */
    pairRatio: Summary;
  };
  runRm?: { bridge: Summary; native?: Summary; nativeSkipped?: string };
  ratios: {
    engineVsNodeFloor?: Verdict;
    engineVsBusybox?: number;
    nodeFloorVsBusybox?: number;
    forwarderVsHostfwd?: Verdict;
    bridgeVsNative?: number;
  };
  guestUsedOk?: boolean;
  targets: typeof VM_TARGETS;
}

export interface VmBenchOptions {
  /** Timed boots of each kind (after one untimed first boot of each machine). */
  repetitions?: number;
  /** Bytes the guest server streams per throughput run. */
  throughputBytes?: number;
  throughputRepetitions?: number;
  runRmRepetitions?: number;
  idleSeconds?: number;
  /** What to measure (default: all). */
  parts?: readonly VmBenchPart[];
  log?: (line: string) => void;
}

/** Why the VM bench cannot run here, or false. */
export async function vmBenchSkip(): Promise<string | false> {
  return (await ensureTestGuestImage()) ?? (qemuSkip() || engineTestSkip());
}

const BOOT_TIMEOUT_MS = 180_000;
/** The first boot's two snapshots take ~30 s of the guest's time under TCG. */
const SNAPSHOT_WAIT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

/** One machine of the bench: its own root dir, TCG, the floor marker as sign of life. */
function benchMachine(root: string, name: string): Machine {
  return new Machine({
    name,
    root,
    dockerSocket: join(root, `${name}.sock`),
    drivers: { qemu: qemuDriver({ signOfLife: /berth-(stage|floor): /, bootTimeoutMs: 120_000 }) },
  });
}

/** Boots a floor machine; wall ms from launch to its marker, and the uptime it reported. */
async function bootFloor(m: Machine): Promise<{ ms: number; uptime: number }> {
  rmSync(m.paths.serialLog, { force: true });
  const started = performance.now();
  let seen: { ms: number; uptime: number } | undefined;
  const tail = m.followLogs(
    (line) => {
      const f = parseFloorLine(line);
      if (f && !seen) seen = { ms: performance.now() - started, uptime: f.uptime };
    },
    { fromStart: true },
  );
  const driver = m.driver();
  try {
    await driver.start();
    const found = await waitUntil('the floor marker', () => seen, {
      timeoutMs: BOOT_TIMEOUT_MS,
      intervalMs: 20,
    });
    await waitUntil('the floor VM to power off', async () => !(await driver.status()).running, {
      timeoutMs: STOP_TIMEOUT_MS,
      intervalMs: 100,
    }).catch(() => undefined);
    return found;
  } finally {
    tail.close();
    await driver.stop({ timeoutMs: 5000 });
  }
}

/** Starts the engine machine; wall ms to the first `/_ping` through its socket, and stages. */
async function bootEngine(
  m: Machine,
): Promise<{ ms: number; uptime: number; stages: Record<string, number> }> {
  rmSync(m.paths.serialLog, { force: true });
  const started = performance.now();
  const stages: Record<string, number> = {};
  let uptime = Number.NaN;
  const tail = m.followLogs(
    (line) => {
      const s = parseStageLine(line);
      if (!s || s.stage === 'failed' || stages[s.stage] !== undefined) return;
      stages[s.stage] = performance.now() - started;
      if (s.stage === 'ready') uptime = Number.parseFloat(s.detail ?? '');
    },
    { fromStart: true },
  );
  try {
    await m.start({ timeoutMs: BOOT_TIMEOUT_MS });
    return { ms: performance.now() - started, uptime, stages };
  } finally {
    tail.close();
  }
}

/** Runs a command in the guest through the agent; its stdout. */
async function guestExec(link: AgentLink, command: string, timeoutMs = 30_000): Promise<string> {
  const channel = await link.exec(command, {}, timeoutMs);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      channel.close();
      reject(new Error(`guest ${command}: no exit in ${timeoutMs} ms`));
    }, timeoutMs);
    channel.on('data', (b: Buffer) => (out += b.toString('utf8')));
    channel.stderr.resume();
    channel.once('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Reads everything a TCP server on 127.0.0.1:port sends; MB/s (1e6 bytes) and the count. */
function drain(port: number, timeoutMs = 120_000): Promise<{ mbps: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let bytes = 0;
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(timeoutMs, () =>
      sock.destroy(new Error(`no end from :${port} in ${timeoutMs} ms`)),
    );
    sock.on('data', (b: Buffer) => (bytes += b.length));
    sock.on('error', reject);
    // No half-close from this side: the guest's proxy would take it for the end of the stream.
    sock.on('end', () => {
      const s = (performance.now() - started) / 1000;
      sock.destroy();
      resolve({ mbps: bytes / 1e6 / s, bytes });
    });
  });
}

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function medianStages(all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set(all.flatMap((s) => Object.keys(s))))
    out[key] = summarize(all.map((s) => s[key]).filter((x) => x !== undefined)).median;
  return Object.fromEntries(Object.entries(out).sort((a, b) => a[1] - b[1]));
}

type Log = (line: string) => void;
type DockerVm = (args: string[], timeoutMs?: number) => Promise<string>;

/**
 * Waits (bounded) for the startup snapshots of the guest's services (agent and engine) that the
 * agent makes after its first ready boot, as a machine that has run for a while has them; later
 * boots start from them.
 */
async function waitForServiceSnapshots(engine: Machine, log: Log): Promise<void> {
  const link = engine.agentLink();
  if (!link) return;
  const deadline = Date.now() + SNAPSHOT_WAIT_MS;
  while (Date.now() < deadline) {
    const made = await guestExec(link, 'ls /var/lib/berth/.node-cache/').catch(() => '');
    if (/^agent-.*\.blob$/m.test(made) && /^engine-.*\.blob$/m.test(made)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  log(
    `vm: the startup snapshots were not made in ${SNAPSHOT_WAIT_MS} ms; boots start from bundles`,
  );
}

/**
 * Boots against the floors, interleaved, after one untimed first boot of each machine (data
 * disks formatted, Node's code cache filled). The engine machine is left running.
 */
async function measureBoots(
  root: string,
  engine: Machine,
  machines: Machine[],
  image: GuestImage,
  common: { accelerators: string[]; diskGiB: number },
  reps: number,
  log: Log,
): Promise<NonNullable<VmBenchResult['boot']>> {
  const nodeFloor = benchMachine(root, 'floor-node');
  const busyboxFloor = benchMachine(root, 'floor-busybox');
  machines.push(nodeFloor, busyboxFloor);
  await nodeFloor.init({ ...common, image: nodeFloorImage(image) });
  await busyboxFloor.init({ ...common, image: busyboxFloorImage(image, join(root, 'floors')) });
  log('vm: first boots (data disks formatted, code caches filled, the agent snapshotted)');
  await bootFloor(nodeFloor);
  const first = await bootEngine(engine);
  await waitForServiceSnapshots(engine, log);

  const runs = { busybox: [] as number[], node: [] as number[], engine: [] as number[] };
  const uptimes = { busybox: [] as number[], node: [] as number[], engine: [] as number[] };
  const stages: Record<string, number>[] = [];
  for (let i = 0; i < reps; i++) {
    await engine.stop({ timeoutMs: STOP_TIMEOUT_MS });
    const b = await bootFloor(busyboxFloor);
    const n = await bootFloor(nodeFloor);
    const e = await bootEngine(engine);
    runs.busybox.push(b.ms);
    runs.node.push(n.ms);
    runs.engine.push(e.ms);
    uptimes.busybox.push(b.uptime);
    uptimes.node.push(n.uptime);
    uptimes.engine.push(e.uptime);
    stages.push(e.stages);
    log(
      `vm: boot ${i + 1}/${reps}: busybox ${b.ms.toFixed(0)} ms, node -e 0 ${n.ms.toFixed(0)} ms, engine-ready ${e.ms.toFixed(0)} ms`,
    );
  }
  return {
    busybox: summarize(runs.busybox),
    node: summarize(runs.node),
    engine: summarize(runs.engine),
    engineFirstMs: first.ms,
    guestUptime: {
      busybox: summarize(uptimes.busybox),
      node: summarize(uptimes.node),
      engineReady: summarize(uptimes.engine),
    },
    stages: medianStages(stages),
  };
}

/** The running engine machine once berthd settled: guest memory, QEMU's RSS and idle CPU. */
async function measureIdle(
  engine: Machine,
  link: AgentLink,
  idleSeconds: number,
  log: Log,
): Promise<NonNullable<VmBenchResult['idle']>> {
  await sleep(5000);
  const meminfo = await guestExec(link, 'cat /proc/meminfo');
  const guestUsedKiB = usedMemoryKiB(meminfo);
  // Who holds it: the guest's Node services (agent, engine) and tmpfs (Shmem). A service is
  // named by its last argument: its bundle, or berth-<service> when started from a snapshot.
  const statuses = await guestExec(
    link,
    'for p in $(pidof node); do echo "== $(tr "\\0" " " </proc/$p/cmdline | awk \'{print $NF}\')"; cat /proc/$p/status; done',
  );
  const guestRssMB: Record<string, number> = {};
  for (const part of statuses.split('== ').slice(1)) {
    const name = (part.split('\n')[0] ?? '').trim().replace(/^.*\//, '');
    guestRssMB[name] = ((parseVmRssKiB(part) ?? 0) * 1024) / 1e6;
  }
  guestRssMB.shmem = (Number(/^Shmem:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) * 1024) / 1e6;
  const qemuPid = (await engine.status()).pid;
  if (qemuPid === undefined) throw new Error('no QEMU pid');
  const qemuRssKiB = parseVmRssKiB(readFileSync(`/proc/${qemuPid}/status`, 'utf8')) ?? 0;
  log(`vm: QEMU idle CPU over ${idleSeconds} s`);
  const hz = clockTicksPerSecond();
  const t0 = performance.now();
  const ticks0 = cpuTicks(readFileSync(`/proc/${qemuPid}/stat`, 'utf8'));
  await sleep(idleSeconds * 1000);
  const idleCpu = cpuPercent(
    ticks0,
    cpuTicks(readFileSync(`/proc/${qemuPid}/stat`, 'utf8')),
    performance.now() - t0,
    hz,
  );
  return {
    guestUsedMB: (guestUsedKiB * 1024) / 1e6,
    guestRssMB,
    qemuRssMB: (qemuRssKiB * 1024) / 1e6,
    cpuPercent: idleCpu,
    windowSeconds: idleSeconds,
  };
}

/** The host process listening on 127.0.0.1:port, by `ss` (which path the forwarder took). */
function listenerOf(port: number): string {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    return /users:\(\("([^"]+)"/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** One container streams `bytes` per connection on a port published the default way. */
async function measureThroughput(
  engine: Machine,
  dockerVm: DockerVm,
  guestRef: string,
  bytes: number,
  opts: VmBenchOptions,
  log: Log,
): Promise<NonNullable<VmBenchResult['throughput']>> {
  const port = await freePort();
  const sshPort = await freePort();
  const published = new Promise<void>((resolve) => {
    const onEvent = (e: MachineEvent) => {
      const open = new Set(e.type === 'ports' ? e.ports.map((p) => p.hostPort) : []);
      if (open.has(port) && open.has(sshPort)) {
        engine.off('event', onEvent);
        resolve();
      }
    };
    engine.on('event', onEvent);
  });
  await dockerVm([
    'run',
    '-d',
    '--name',
    'stream',
    // As a user publishes: the VM's berthd binds it on all guest addresses (--ip 0.0.0.0), so
    // both QEMU forwards reach it at the guest's user-net address.
    '-p',
    `${port}:8080`,
    '-p',
    `127.0.0.1:${sshPort}:8080`,
    guestRef,
    'nc',
    '-ll',
    '-p',
    '8080',
    '-e',
    'head',
    '-c',
    String(bytes),
    '/dev/zero',
  ]);
  await Promise.race([
    published,
    sleep(60_000).then(() => {
      throw new Error(`port ${port} was not forwarded within 60 s`);
    }),
  ]);
  const forwarderListener = listenerOf(port);
  log(`vm: the forwarded port is served by ${forwarderListener}`);
  const fwdPort = await freePort();
  await qmpExecute(join(engine.paths.runDir, 'qmp.sock'), 'human-monitor-command', {
    'command-line': `hostfwd_add net0 tcp:127.0.0.1:${fwdPort}-:${port}`,
  });
  const forwarder: number[] = [];
  const hostfwd: number[] = [];
  const sshPath: number[] = [];
  const check = (r: { bytes: number }, way: string) => {
    if (r.bytes !== bytes) throw new Error(`${way}: got ${r.bytes} of ${bytes} bytes`);
  };
  // One untimed run each warms the paths (JIT of the copy loops in the guest).
  check(await drain(port), 'forwarder');
  check(await drain(fwdPort), 'hostfwd');
  check(await drain(sshPort), 'ssh path');
  for (let i = 0; i < (opts.throughputRepetitions ?? 3); i++) {
    // The order rotates, so each path runs in each position equally often: a run is slower
    // or faster by what ran before it (the guest still tearing the last connection down).
    const ways = [port, fwdPort, sshPort];
    const order = ways.map((_, k) => ways[(k + i) % ways.length] ?? port);
    const got = new Map<number, { mbps: number; bytes: number }>();
    for (const p of order) got.set(p, await drain(p));
    const f = got.get(port) ?? { mbps: 0, bytes: 0 };
    const h = got.get(fwdPort) ?? { mbps: 0, bytes: 0 };
    const ssh = got.get(sshPort) ?? { mbps: 0, bytes: 0 };
    check(f, 'forwarder');
    check(h, 'hostfwd');
    check(ssh, 'ssh path');
    forwarder.push(f.mbps);
    hostfwd.push(h.mbps);
    sshPath.push(ssh.mbps);
    log(
      `vm: throughput ${i + 1}: forwarder ${f.mbps.toFixed(1)} MB/s, hostfwd ${h.mbps.toFixed(1)} MB/s, ssh path ${ssh.mbps.toFixed(1)} MB/s`,
    );
  }
  await dockerVm(['rm', '-f', 'stream']);
  return {
    bytes,
    forwarderMBps: summarize(forwarder),
    hostfwdMBps: summarize(hostfwd),
    forwarderListener,
    sshPathMBps: summarize(sshPath),
    pairRatio: summarize(forwarder.map((f, i) => f / (hostfwd[i] ?? Number.NaN))),
  };
}

export async function runVmBench(opts: VmBenchOptions = {}): Promise<VmBenchResult> {
  const log = opts.log ?? (() => undefined);
  const parts = VM_BENCH_PARTS.filter((p) => !opts.parts || opts.parts.includes(p));
  const reps = opts.repetitions ?? 3;
  const bytes = opts.throughputBytes ?? 8 * 1024 * 1024;
  const loadStart = loadavg();
  const root = mkdtempSync(join(tmpdir(), 'berth-vmbench-'));
  const imageDir = defaultImageDir(hostArch());
  const image: GuestImage = imageFromDir(imageDir);
  const key = (JSON.parse(readFileSync(join(imageDir, 'manifest.json'), 'utf8')) as { key: string })
    .key;
  const machines: Machine[] = [];
  let registry: Registry | undefined;
  let native: Berthd | undefined;
  try {
    registry = await startRegistry();
    const pushed = await pushTestImage(registry.host, 'busybox');
    const guestRef = pushed.ref.replace('127.0.0.1', QEMU_USER_NET_HOST);
    const registryPort = registry.host.split(':')[1] ?? '';

    const common = { accelerators: ['tcg'], diskGiB: 4 };
    const engine = benchMachine(root, 'engine');
    machines.push(engine);
    await engine.init({
      ...common,
      image,
      insecureRegistries: [`${QEMU_USER_NET_HOST}:${registryPort}`],
    });
    const settings = engine.settings();
    const result: VmBenchResult = {
      date: '',
      parts,
      load: { start: loadStart, end: [] },
      image: { key, dir: imageDir },
      accelerator: '?',
      cpus: settings.cpus,
      memoryMiB: settings.memoryMiB,
      repetitions: reps,
      ratios: {},
      targets: VM_TARGETS,
    };

    if (parts.includes('boot')) {
      result.boot = await measureBoots(root, engine, machines, image, common, reps, log);
      const b = result.boot;
      result.ratios.engineVsNodeFloor = verdict(
        b.engine.median,
        b.node.median,
        VM_TARGETS.engineVsNodeFloor,
        'at-most',
      );
      result.ratios.engineVsBusybox = b.engine.median / b.busybox.median;
      result.ratios.nodeFloorVsBusybox = b.node.median / b.busybox.median;
    } else {
      log('vm: booting the engine machine');
      await bootEngine(engine);
    }
    result.accelerator = (await engine.status()).accelerator ?? '?';
    const link = engine.agentLink();
    if (!link) throw new Error('the engine machine has no agent link');

    if (parts.includes('idle')) {
      result.idle = await measureIdle(engine, link, opts.idleSeconds ?? 30, log);
      result.guestUsedOk = result.idle.guestUsedMB <= VM_TARGETS.guestUsedMB;
    }

    const host = engineClientHost(engine.dockerSocket);
    const dockerVm = async (args: string[], timeoutMs = 180_000) => {
      const r = await docker(args, { host, timeoutMs });
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    if (parts.includes('throughput') || parts.includes('run-rm')) {
      log('vm: pulling busybox into the guest');
      await dockerVm(['pull', '-q', guestRef]);
    }

    if (parts.includes('throughput')) {
      result.throughput = await measureThroughput(engine, dockerVm, guestRef, bytes, opts, log);
      result.ratios.forwarderVsHostfwd = verdict(
        result.throughput.forwarderMBps.median,
        result.throughput.hostfwdMBps.median,
        VM_TARGETS.forwarderVsHostfwd,
        'at-least',
      );
    }

    if (parts.includes('run-rm')) {
      // docker run --rm through the bridge against berthd on this host.
      const nativeSkipped = engineTestSkip() || undefined;
      if (!nativeSkipped) {
        native = await startBerthd();
        const r = await docker(['pull', '-q', pushed.ref], { host: native.dockerHost });
        if (r.code !== 0) throw new Error(`native pull: ${r.stderr}`);
      }
      const runRm = async (h: string, ref: string) => {
        const r = await docker(['run', '--rm', ref, 'true'], { host: h, timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`run --rm: ${r.stderr}`);
      };
      const bridgeRuns: number[] = [];
      const nativeRuns: number[] = [];
      await runRm(host, guestRef);
      if (native) await runRm(native.dockerHost, pushed.ref);
      for (let i = 0; i < (opts.runRmRepetitions ?? 5); i++) {
        bridgeRuns.push(await timed(() => runRm(host, guestRef)));
        if (native) {
          const h = native.dockerHost;
          nativeRuns.push(await timed(() => runRm(h, pushed.ref)));
        }
      }
      const bridge = summarize(bridgeRuns);
      const nativeSummary = native ? summarize(nativeRuns) : undefined;
      result.runRm = {
        bridge,
        ...(nativeSummary ? { native: nativeSummary } : {}),
        ...(nativeSkipped ? { nativeSkipped } : {}),
      };
      if (nativeSummary) result.ratios.bridgeVsNative = bridge.median / nativeSummary.median;
    }

    result.date = new Date().toISOString();
    result.load.end = loadavg();
    return result;
  } catch (e) {
    // What the guest said about it, while the VM still runs.
    const link = machines[0]?.agentLink();
    const tail = link
      ? await guestExec(
          link,
          'tail -n 40 /run/berth/engine.log /run/berth/agent.log',
          15_000,
        ).catch(() => '')
      : '';
    if (tail && e instanceof Error) e.message += `\n--- guest logs ---\n${tail}`;
    throw e;
  } finally {
    await native?.stop().catch(() => undefined);
    for (const m of machines) {
      if (!m.exists()) continue;
      await m.stop({ timeoutMs: 10_000 }).catch(() => undefined);
      await m.delete().catch(() => undefined);
    }
    await registry?.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
