/**
 * Starting and stopping the engine from the tray. On Linux berthd runs natively as a child of
 * the app; where the engine lives in the Berth VM (macOS, Windows) packages/machine will provide
 * the same interface. An app pointed at an engine it did not start cannot control it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface EngineController {
  readonly controllable: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export const externalEngine: EngineController = {
  controllable: false,
  start: () => Promise.reject(new Error('This engine is not managed by Berth.')),
  stop: () => Promise.reject(new Error('This engine is not managed by Berth.')),
  restart: () => Promise.reject(new Error('This engine is not managed by Berth.')),
};

/** berthd as a child process on `socket`; `runtime` is Node, or Electron run as Node. */
export class NativeEngine implements EngineController {
  readonly controllable = true;
  private child: ChildProcess | undefined;

  constructor(
    private readonly socket: string,
    /** The built `berthd.js` (packages/runtime/dist/cli/berthd.js, or the packaged copy). */
    private readonly berthdJs: string,
    private readonly runtime: string = process.execPath,
  ) {}

  start(): Promise<void> {
    if (this.child && this.child.exitCode === null) return Promise.resolve();
    mkdirSync(dirname(this.socket), { recursive: true });
    this.child = spawn(this.runtime, [this.berthdJs, '-H', `unix://${this.socket}`], {
      stdio: 'ignore',
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
