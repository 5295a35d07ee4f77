/**
 * The Hyper-V driver (Windows 10/11 Pro with Hyper-V), through the platform's own PowerShell
 * cmdlets (hyperv-commands.ts). A Generation 2 VM boots the image's EFI boot disk; the guest
 * config travels on a config disk; the console is COM1 on a named pipe copied into the serial
 * log; the agent is reached at the address the KVP integration service reports. Hyper-V has no
 * 9p/virtiofs for host folders, so shared folders are refused until a transport exists.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_PORT, encodeConfigDisk } from '@berth/vm-image/protocol';
import {
  DriverUnavailableError,
  type AgentAddress,
  type Driver,
  type DriverContext,
  type DriverFactory,
  type DriverStatus,
  type StartedGuest,
} from '../../driver.js';
import { runCommand } from '../../util/process.js';
import { waitForSignOfLife } from '../guest-console.js';
import { waitUntil } from '../../util/wait.js';
import {
  addressScript,
  consolePipeFor,
  createScript,
  deleteScript,
  powershellArgs,
  startScript,
  statusScript,
  stopScript,
  vmNameFor,
  type HyperVMachine,
} from './hyperv-commands.js';
import { rawToFixedVhd } from './vhd.js';

const CONSOLE_PIPE = fileURLToPath(new URL('./console-pipe.win32.js', import.meta.url));

export interface HyperVDriverOptions {
  switchName?: string;
  bootTimeoutMs?: number;
}

export const hypervDriver =
  (opts: HyperVDriverOptions = {}): DriverFactory =>
  (ctx) =>
    new HyperVDriver(ctx, opts);

/** The VM description the scripts need, from a machine. */
export function hypervMachine(ctx: DriverContext, switchName = 'Default Switch'): HyperVMachine {
  const { settings, paths } = ctx;
  return {
    vmName: vmNameFor(settings.name),
    dir: paths.dir,
    cpus: settings.cpus,
    memoryMiB: settings.memoryMiB,
    efiBootDisk: settings.image.efiBootDisk ?? '',
    systemDisk: join(paths.dir, 'system.vhd'),
    dataDisk: join(paths.dir, 'data.vhdx'),
    dataDiskGiB: settings.diskGiB,
    configDisk: join(paths.runDir, 'config.vhd'),
    consolePipe: consolePipeFor(settings.name),
    switchName,
  };
}

class HyperVDriver implements Driver {
  readonly name = 'hyperv';
  private readonly vm: HyperVMachine;

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: HyperVDriverOptions,
  ) {
    this.vm = hypervMachine(ctx, opts.switchName);
  }

  private async ps(script: string): Promise<string> {
    const r = await runCommand('powershell.exe', powershellArgs(script), { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`Hyper-V: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout.trim();
  }

  async validate(): Promise<void> {
    if (process.platform !== 'win32')
      throw new DriverUnavailableError('the hyperv driver runs on Windows only');
    if (!this.ctx.settings.image.efiBootDisk || !existsSync(this.ctx.settings.image.efiBootDisk)) {
      throw new DriverUnavailableError(
        'Hyper-V needs the guest image’s EFI boot disk (efiBootDisk)',
      );
    }
    if (this.ctx.settings.sharedFolders.length > 0) {
      throw new DriverUnavailableError(
        'shared folders are not available with Hyper-V yet; init with --no-share',
      );
    }
    const probe = await runCommand(
      'powershell.exe',
      powershellArgs('(Get-Command Get-VM -ErrorAction Stop).Name'),
      {
        timeoutMs: 60_000,
      },
    ).catch(() => undefined);
    if (probe?.code !== 0)
      throw new DriverUnavailableError('the Hyper-V PowerShell module is not available');
  }

  async create(): Promise<void> {
    mkdirSync(this.ctx.paths.runDir, { recursive: true });
    this.writeDisks();
    await this.ps(createScript(this.vm));
  }

  /** The system image and the config as fixed VHDs (Hyper-V does not attach raw files). */
  private writeDisks(): void {
    const system = this.ctx.settings.image.system;
    if (
      system &&
      (!existsSync(this.vm.systemDisk) ||
        statSync(this.vm.systemDisk).mtimeMs < statSync(system).mtimeMs)
    ) {
      writeFileSync(this.vm.systemDisk, rawToFixedVhd(readFileSync(system), randomBytes(16)));
    }
    writeFileSync(
      this.vm.configDisk,
      rawToFixedVhd(encodeConfigDisk(this.ctx.guestConfig), randomBytes(16)),
      {
        mode: 0o600,
      },
    );
  }

  async start(): Promise<StartedGuest> {
    if ((await this.status()).running)
      throw new Error(`machine ${this.ctx.settings.name} is already running`);
    await this.create();
    spawn(process.execPath, [CONSOLE_PIPE, this.vm.consolePipe, this.ctx.paths.serialLog], {
      detached: true,
      stdio: 'ignore',
    }).unref();
    await this.ps(startScript(this.vm.vmName));
    const timeoutMs = this.opts.bootTimeoutMs ?? 180_000;
    await waitForSignOfLife(this.ctx.paths.serialLog, { timeoutMs, intervalMs: 250 });
    const agent = await waitUntil('the guest’s address', () => this.guestAgent(), {
      timeoutMs,
      intervalMs: 1000,
    });
    return { accelerator: 'hyperv', agent };
  }

  async status(): Promise<DriverStatus> {
    const state = await this.ps(statusScript(this.vm.vmName)).catch(() => 'Absent');
    return state === 'Running' ? { running: true, accelerator: 'hyperv' } : { running: false };
  }

  async guestAgent(): Promise<AgentAddress | undefined> {
    const ip = await this.ps(addressScript(this.vm.vmName)).catch(() => '');
    return ip ? { transport: 'tcp', host: ip, port: AGENT_PORT } : undefined;
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (!(await this.status()).running) return;
    await this.ps(stopScript(this.vm.vmName, false)).catch(() => undefined);
    try {
      await waitUntil('the guest to stop', async () => !(await this.status()).running, {
        timeoutMs: opts.timeoutMs ?? 30_000,
        intervalMs: 1000,
      });
    } catch {
      await this.ps(stopScript(this.vm.vmName, true));
    }
  }

  async delete(): Promise<void> {
    await this.ps(deleteScript(this.vm.vmName));
    for (const f of [
      this.vm.systemDisk,
      this.vm.dataDisk,
      this.vm.configDisk,
      this.ctx.paths.serialLog,
    ]) {
      rmSync(f, { force: true });
    }
  }
}
