/**
 * The Virtualization.framework driver (macOS 13+): the VM runs in a detached vz-host process
 * (VZ machines live in the process that made them); the agent is reached over VZ's NAT at the
 * address its DHCP lease names. Node must carry the `com.apple.security.virtualization`
 * entitlement for VZ to agree to run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
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
import { removeGuestFiles } from '../files.js';
import { ensureSparseDisk } from '../../util/disk.js';
import { readText, waitForSignOfLife } from '../guest-console.js';
import { isAlive, livePid, runCommand, terminate } from '../../util/process.js';
import { waitUntil } from '../../util/wait.js';
import {
  configDiskPath,
  leaseAddress,
  machineMac,
  vzConfiguration,
  vzGuestConfig,
} from './vz-config.js';

const VZ_HOST = fileURLToPath(new URL('./vz-host.darwin.js', import.meta.url));
const LEASES = '/var/db/dhcpd_leases';

export interface VzDriverOptions {
  /** Milliseconds for the guest to show life and to get a DHCP lease. */
  bootTimeoutMs?: number;
}

export const vzDriver =
  (opts: VzDriverOptions = {}): DriverFactory =>
  (ctx) =>
    new VzDriver(ctx, opts);

class VzDriver implements Driver {
  readonly name = 'vz';
  private readonly pidFile: string;
  private readonly configFile: string;

  constructor(
    private readonly ctx: DriverContext,
    private readonly opts: VzDriverOptions,
  ) {
    this.pidFile = join(ctx.paths.runDir, 'vz.pid');
    this.configFile = join(ctx.paths.runDir, 'vz.json');
  }

  async validate(): Promise<void> {
    if (process.platform !== 'darwin')
      throw new DriverUnavailableError('the vz driver runs on macOS only');
    // Darwin 22 is macOS 13, the first with VZ's generic Linux platform and virtiofs we rely on.
    if (Number(release().split('.')[0]) < 22)
      throw new DriverUnavailableError('the vz driver needs macOS 13 or later');
    if (this.ctx.settings.arch !== (process.arch === 'arm64' ? 'aarch64' : 'x86_64')) {
      throw new DriverUnavailableError('VZ runs guests of the host architecture only');
    }
    const ent = await runCommand('codesign', ['-d', '--entitlements', '-', process.execPath], {
      timeoutMs: 15_000,
    });
    if (!`${ent.stdout}${ent.stderr}`.includes('com.apple.security.virtualization')) {
      throw new DriverUnavailableError(
        `${process.execPath} lacks the com.apple.security.virtualization entitlement`,
      );
    }
  }

  create(): Promise<void> {
    ensureSparseDisk(this.ctx.paths.dataDisk, this.ctx.settings.diskGiB);
    return Promise.resolve();
  }

  async start(): Promise<StartedGuest> {
    if ((await this.status()).running)
      throw new Error(`machine ${this.ctx.settings.name} is already running`);
    await this.create();
    const { paths } = this.ctx;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    writeFileSync(configDiskPath(this.ctx), encodeConfigDisk(vzGuestConfig(this.ctx.guestConfig)), {
      mode: 0o600,
    });
    writeFileSync(this.configFile, JSON.stringify(vzConfiguration(this.ctx)), { mode: 0o600 });
    if (existsSync(paths.serialLog)) renameSync(paths.serialLog, `${paths.serialLog}.1`);
    const child = spawn(process.execPath, [VZ_HOST, this.configFile, this.pidFile], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    const timeoutMs = this.opts.bootTimeoutMs ?? 120_000;
    const pid = await waitUntil('the VZ host process', () => livePid(this.pidFile), {
      timeoutMs,
      giveUp: () => (child.exitCode !== null ? `vz-host exited ${child.exitCode}` : undefined),
    });
    await waitForSignOfLife(paths.serialLog, {
      timeoutMs,
      intervalMs: 200,
      giveUp: () => (isAlive(pid) ? undefined : 'the VZ host process exited'),
    });
    const agent = await waitUntil('the guest’s DHCP lease', () => this.agentAddress(), {
      timeoutMs,
      intervalMs: 500,
    });
    return { pid, accelerator: 'vz', agent };
  }

  private agentAddress(): AgentAddress | undefined {
    const ip = leaseAddress(readText(LEASES), machineMac(this.ctx.settings.name));
    return ip ? { transport: 'tcp', host: ip, port: AGENT_PORT } : undefined;
  }

  status(): Promise<DriverStatus> {
    const pid = livePid(this.pidFile);
    return Promise.resolve(
      pid === undefined ? { running: false } : { running: true, pid, accelerator: 'vz' },
    );
  }

  async guestAgent(): Promise<AgentAddress | undefined> {
    return (await this.status()).running ? this.agentAddress() : undefined;
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    const pid = livePid(this.pidFile);
    // vz-host asks the guest to power off on SIGTERM and forces it 15 s later.
    if (pid !== undefined) await terminate(pid, opts.timeoutMs ?? 30_000);
    for (const f of [this.pidFile, this.configFile, configDiskPath(this.ctx)])
      rmSync(f, { force: true });
  }

  async delete(): Promise<void> {
    await this.stop({ timeoutMs: 5000 });
    removeGuestFiles(this.ctx.paths);
  }
}
