/**
 * The engine in the Berth VM (macOS, Windows; Linux when asked): packages/machine's Machine
 * behind the tray's EngineController. The first start creates the machine from the app's
 * settings; later starts apply the settings saved since (CPUs, memory, disk, shared folders,
 * insecure registries take effect at a VM start, never on a running VM). Boot progress goes to
 * `onProgress` for the status bar, the guest console to Troubleshoot.
 */
import {
  defaultImageDir,
  engineClientHost,
  hostArch,
  imageFromDir,
  Machine,
  type Progress,
} from '@berth/machine';
import type { Settings } from '../shared/contract.js';
import type { EngineController } from './engine-controller.js';

export class VmEngine implements EngineController {
  readonly controllable = true;
  readonly machine: Machine;

  constructor(
    private readonly settings: () => Promise<Settings>,
    /**
     * Boot progress while starting; undefined once the engine runs or stops, with why when the
     * start failed.
     */
    private readonly onProgress: (p: Progress | undefined, failure?: string) => void,
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
    try {
      await this.boot();
    } catch (e) {
      this.onProgress(
        undefined,
        `The Berth VM did not start: ${e instanceof Error ? e.message : String(e)}`,
      );
      throw e;
    }
  }

  private async boot(): Promise<void> {
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
      // Stopped here (start adopts a VM already running, with the settings it booted with).
      const running = (await this.machine.driver().status()).running;
      if (!running)
        await this.machine.configure({
          cpus: s.cpus,
          memoryMiB: s.memoryMiB,
          // The disk only grows: a smaller size would not hold what the guest wrote.
          diskGiB: Math.max(this.machine.settings().diskGiB, s.diskGiB),
          sharedFolders: s.sharedFolders,
          insecureRegistries: s.insecureRegistries,
        });
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
}
