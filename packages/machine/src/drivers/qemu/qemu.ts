/**
 * The QEMU driver: x86_64 and aarch64 guests, accelerated by KVM (Linux), HVF (macOS) or WHPX
 * (Windows) when the bounded probe says the accelerated guest comes up, else TCG. QEMU runs
 * daemonized, so the guest outlives the process that started it; everything a later process
 * needs is in `<runDir>`: qemu.pid, qmp.sock and qemu.json (accelerator, agent port).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_PORT, FW_CFG_NAME, BOOT_STAGE_PREFIX } from '@berth/vm-image/protocol';
import { z } from 'zod';
import {
  DriverUnavailableError,
  type AgentAddress,
  type Driver,
  type DriverContext,
  type DriverFactory,
  type DriverStartOptions,
  type DriverStatus,
  type StartedGuest,
} from '../../driver.js';
import { removeGuestFiles } from '../files.js';
import type { GuestImage } from '../../settings.js';
import { ensureSparseDisk } from '../../util/disk.js';
import { freePort, isAlive, livePid, runCommand, terminate } from '../../util/process.js';
import { waitUntil } from '../../util/wait.js';
import {
  acceleratorCandidates,
  bootWithFallback,
  hostFacts,
  readKnownBad,
  rememberBad,
  type HostFacts,
} from './accel.js';
import { qemuArgs, qemuBinary, type QemuAccelerator } from './args.js';
import { QemuHostForwarder } from './hostfwd.js';
import { qmpExecute } from './qmp.js';
import { findVirtiofsd, startVirtiofsd, stopVirtiofsd, virtiofsdFiles } from './virtiofsd.js';
import { vzGuestConfig } from '../vz/vz-config.js';

export interface QemuDriverOptions {
  /** The QEMU binary (default `qemu-system-<arch>` from PATH). */
  binary?: string;
  /** Milliseconds an accelerated guest gets to show life before falling back. */
  probeTimeoutMs?: number;
  /** Milliseconds the last candidate (TCG) gets to show life. */
  bootTimeoutMs?: number;
  host?: HostFacts;
  /** What on the console proves the guest runs; default: its first boot stage line. */
  signOfLife?: RegExp;
  /** The virtiofsd for shared folders; default: an installed one (findVirtiofsd); false: 9p. */
  virtiofsd?: string | false;
}

const RunInfoSchema = z.object({
  accelerator: z.string(),
  agentPort: z.number().int(),
});

export const qemuDriver =
  (opts: QemuDriverOptions = {}): DriverFactory =>
  (ctx) =>
    new QemuDriver(ctx, opts);

class QemuDriver implements Driver {
  readonly name = 'qemu';
  readonly portForwarder: QemuHostForwarder;
  private readonly binary: string;
  private readonly files: {
    pid: string;
    qmp: string;
    info: string;
    guestConfig: string;
    verdicts: string;
    hostfwd: string;
  };

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: QemuDriverOptions,
  ) {
    this.binary = opts.binary ?? qemuBinary(ctx.settings.arch);
    const run = ctx.paths.runDir;
    this.files = {
      pid: join(run, 'qemu.pid'),
      qmp: join(run, 'qmp.sock'),
      info: join(run, 'qemu.json'),
      guestConfig: join(run, 'guest-config.json'),
      verdicts: join(ctx.hostStateDir, 'accelerators.json'),
      hostfwd: join(run, 'hostfwd.json'),
    };
    this.portForwarder = new QemuHostForwarder(this.files.qmp, this.files.hostfwd);
  }

  async validate(): Promise<void> {
    let version;
    try {
      version = await runCommand(this.binary, ['--version'], { timeoutMs: 15_000 });
    } catch {
      throw new DriverUnavailableError(`${this.binary} not found; install QEMU`);
    }
    if (version.code !== 0)
      throw new DriverUnavailableError(`${this.binary} --version failed: ${version.stderr.trim()}`);
    const { image, sharedFolders } = this.ctx.settings;
    for (const file of [bootKernel(image), image.initrd, ...(image.system ? [image.system] : [])]) {
      if (!existsSync(file))
        throw new DriverUnavailableError(
          `guest image file missing: ${file} (run npm run vm-image)`,
        );
    }
    for (const share of sharedFolders) {
      if (!existsSync(share.hostPath))
        throw new DriverUnavailableError(`shared folder missing: ${share.hostPath}`);
    }
  }

  create(): Promise<void> {
    ensureSparseDisk(this.ctx.paths.dataDisk, this.ctx.settings.diskGiB);
    return Promise.resolve();
  }

  async start(startOpts: DriverStartOptions = {}): Promise<StartedGuest> {
    if ((await this.status()).running)
      throw new Error(`machine ${this.ctx.settings.name} is already running`);
    await this.create();
    mkdirSync(this.ctx.paths.runDir, { recursive: true, mode: 0o700 });
    const candidates = acceleratorCandidates(
      this.ctx.settings.arch,
      this.opts.host ?? hostFacts(),
      {
        requested: this.ctx.settings.accelerators,
        knownBad: readKnownBad(this.files.verdicts),
      },
    );
    const failed: string[] = [];
    const { accelerator, result } = await bootWithFallback(
      candidates,
      (accel, isLast) => this.boot(accel, isLast, startOpts),
      (attempt) => {
        failed.push(attempt.accelerator);
        startOpts.onNotice?.(
          `${attempt.accelerator}: ${attempt.error ?? 'failed'}; trying the next accelerator`,
        );
      },
    );
    // Blamed only once a later candidate booted the same guest: then the image is not at fault.
    for (const bad of failed) rememberBad(this.files.verdicts, bad);
    return {
      pid: result.pid,
      accelerator,
      agent: { transport: 'tcp', host: '127.0.0.1', port: result.port },
    };
  }

  /**
   * Shares over virtiofs when a virtiofsd is installed and starts, else 9p; the guest config
   * (which tells the guest how to mount them) is written to match.
   */
  private async prepareShares(onNotice: ((message: string) => void) | undefined) {
    const { settings, paths } = this.ctx;
    await stopVirtiofsd(paths.runDir);
    const binary =
      settings.sharedFolders.length === 0 || this.opts.virtiofsd === false
        ? undefined
        : (this.opts.virtiofsd ?? findVirtiofsd());
    let virtiofs = false;
    if (binary) {
      try {
        await startVirtiofsd(binary, paths.runDir, settings.sharedFolders);
        virtiofs = true;
      } catch (e) {
        onNotice?.(`virtiofs unavailable (${(e as Error).message}); sharing folders over 9p`);
      }
    }
    const config = virtiofs ? vzGuestConfig(this.ctx.guestConfig) : this.ctx.guestConfig;
    // Holds the guest's private host key: readable by the owner only.
    writeFileSync(this.files.guestConfig, JSON.stringify(config), { mode: 0o600 });
    return settings.sharedFolders.map((f) =>
      virtiofs ? { ...f, virtiofsSocket: virtiofsdFiles(paths.runDir, f.tag).socket } : f,
    );
  }

  private async boot(
    accelerator: QemuAccelerator,
    isLast: boolean,
    startOpts: DriverStartOptions,
  ): Promise<{ pid: number; port: number }> {
    const { settings, paths } = this.ctx;
    const signal = startOpts.signal;
    const port = await freePort();
    // Keep the previous boot's console for `logs --previous`; QEMU truncates its file.
    if (existsSync(paths.serialLog)) renameSync(paths.serialLog, `${paths.serialLog}.1`);
    rmSync(this.files.pid, { force: true });
    rmSync(this.files.qmp, { force: true });
    rmSync(this.files.hostfwd, { force: true });
    const shares = await this.prepareShares(startOpts.onNotice);
    const args = qemuArgs({
      arch: settings.arch,
      accelerator,
      cpus: settings.cpus,
      memoryMiB: settings.memoryMiB,
      kernel: bootKernel(settings.image),
      initrd: settings.image.initrd,
      cmdline: settings.image.cmdline,
      disks: [
        ...(settings.image.system ? [{ path: settings.image.system, readOnly: true }] : []),
        { path: paths.dataDisk, readOnly: false },
      ],
      shares,
      agentHostPort: port,
      agentGuestPort: AGENT_PORT,
      fwCfgFile: this.files.guestConfig,
      fwCfgName: FW_CFG_NAME,
      serialLog: paths.serialLog,
      pidFile: this.files.pid,
      qmpSocket: this.files.qmp,
      hostIsRoot: process.getuid?.() === 0,
    });
    const launched = await this.launch(args);
    if (launched.code !== 0) {
      await stopVirtiofsd(paths.runDir);
      throw new Error(`${this.binary} (${accelerator}) failed: ${launched.stderr.trim()}`);
    }
    const pid = await waitUntil('the QEMU pid file', () => livePid(this.files.pid), {
      timeoutMs: 10_000,
    });
    writeFileSync(this.files.info, `${JSON.stringify({ accelerator, agentPort: port })}\n`);
    const pattern = this.opts.signOfLife ?? new RegExp(BOOT_STAGE_PREFIX.trim());
    try {
      await waitUntil(
        `the guest (${accelerator}) to show life on its console`,
        () => pattern.test(readText(paths.serialLog)),
        {
          timeoutMs: isLast
            ? (this.opts.bootTimeoutMs ?? 180_000)
            : (this.opts.probeTimeoutMs ?? 15_000),
          intervalMs: 200,
          ...(signal ? { signal } : {}),
          giveUp: () =>
            isAlive(pid)
              ? undefined
              : `QEMU exited; console:\n${tailText(readText(paths.serialLog))}`,
        },
      );
    } catch (e) {
      await terminate(pid, 2000);
      await stopVirtiofsd(paths.runDir);
      rmSync(this.files.info, { force: true });
      throw e;
    }
    return { pid, port };
  }

  /** Runs QEMU until it daemonizes (the parent exits once the guest is set up). */
  private async launch(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  }

  status(): Promise<DriverStatus> {
    const pid = livePid(this.files.pid, 'qemu');
    if (pid === undefined) return Promise.resolve({ running: false });
    const info = this.runInfo();
    return Promise.resolve({
      running: true,
      pid,
      ...(info ? { accelerator: info.accelerator } : {}),
    });
  }

  async guestAgent(): Promise<AgentAddress | undefined> {
    if (!(await this.status()).running) return undefined;
    const info = this.runInfo();
    return info ? { transport: 'tcp', host: '127.0.0.1', port: info.agentPort } : undefined;
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    const pid = livePid(this.files.pid, 'qemu');
    if (pid !== undefined) {
      const gone = () => !isAlive(pid);
      const timeoutMs = opts.timeoutMs ?? 20_000;
      await qmpExecute(this.files.qmp, 'system_powerdown').catch(() => undefined);
      try {
        await waitUntil('the guest to power off', gone, { timeoutMs, intervalMs: 100 });
      } catch {
        await qmpExecute(this.files.qmp, 'quit').catch(() => undefined);
        await waitUntil('QEMU to quit', gone, { timeoutMs: 5000 }).catch(() =>
          terminate(pid, 2000),
        );
      }
    }
    await stopVirtiofsd(this.ctx.paths.runDir);
    for (const f of [
      this.files.pid,
      this.files.qmp,
      this.files.info,
      this.files.guestConfig,
      this.files.hostfwd,
    ])
      rmSync(f, { force: true });
  }

  async delete(): Promise<void> {
    await this.stop({ timeoutMs: 5000 });
    removeGuestFiles(this.ctx.paths);
  }

  private runInfo(): z.infer<typeof RunInfoSchema> | undefined {
    try {
      return RunInfoSchema.parse(JSON.parse(readFileSync(this.files.info, 'utf8')));
    } catch {
      return undefined;
    }
  }
}

/** QEMU boots the uncompressed kernel (PVH entry) when the image has one: no unpacking in TCG. */
function bootKernel(image: GuestImage): string {
  return image.kernelElf ?? image.kernel;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tailText(text: string, lines = 20): string {
  return text.split('\n').slice(-lines).join('\n');
}
