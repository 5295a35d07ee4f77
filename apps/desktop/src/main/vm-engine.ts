/**
 * The engine in the Berth VM (macOS, Windows; Linux when asked): packages/machine's Machine
 * behind the tray's EngineController. The first start creates the machine from the app's
 * settings; later starts apply the settings saved since (CPUs, memory, disk, shared folders,
 * insecure registries take effect at a VM start, never on a running VM). Boot progress goes to
 * `onProgress` for the status bar, the guest console to Troubleshoot.
 */
import { renameSync, writeFileSync } from 'node:fs';
import {
  defaultImageDir,
  engineClientHost,
  hostArch,
  imageFromDir,
  Machine,
  MachineSettingsSchema,
  sharedFoldersFor,
  type Progress,
} from '@berth/machine';
import type { Settings } from '../shared/contract.js';
import type { EngineController } from './engine-controller.js';

export class VmEngine implements EngineController {
  readonly controllable = true;
  readonly machine: Machine;

  constructor(
    private readonly settings: () => Promise<Settings>,
    /** Boot progress while starting; undefined once the engine runs or the start failed. */
    onProgress: (p: Progress | undefined) => void,
    machine: Machine = new Machine(),
  ) {
    this.machine = machine;
    machine.on('event', (e) => {
      if (e.type === 'progress') onProgress(e.progress);
      else if (e.type === 'state' && e.state !== 'starting') onProgress(undefined);
    });
  }

  /** The engine's address for @berth/engine-client (the host socket the machine serves). */
  get engineHost(): string {
    return engineClientHost(this.machine.dockerSocket);
  }

  async start(): Promise<void> {
    const s = await this.settings();
    if (!this.machine.exists()) {
      await this.machine.init({
        cpus: s.cpus,
        memoryMiB: s.memoryMiB,
        diskGiB: s.diskGiB,
        sharedFolders: s.sharedFolders,
        insecureRegistries: s.insecureRegistries,
        image: imageFromDir(defaultImageDir(hostArch())),
      });
    } else {
      this.apply(s);
    }
    await this.machine.start();
  }

  stop(): Promise<void> {
    return this.machine.stop();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The guest console of this boot, for Troubleshoot. */
  consoleLines(tail: number): string[] {
    return this.machine.logs().split('\n').slice(-tail);
  }

  /**
   * Writes the app's settings into the machine's (validated, atomically). The disk only grows:
   * the data disk is sparse and a smaller size would not fit what the guest wrote.
   */
  private apply(s: Settings): void {
    const current = this.machine.settings();
    const next = MachineSettingsSchema.parse({
      ...current,
      cpus: s.cpus,
      memoryMiB: s.memoryMiB,
      diskGiB: Math.max(current.diskGiB, s.diskGiB),
      sharedFolders: sharedFoldersFor(s.sharedFolders),
      insecureRegistries: s.insecureRegistries,
    });
    const tmp = `${this.machine.paths.settings}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
    renameSync(tmp, this.machine.paths.settings);
  }
}
