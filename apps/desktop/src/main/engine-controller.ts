/**
 * Starting and stopping the engine from the tray and Troubleshoot. As root on Linux berthd runs
 * natively as a child of the app (or of `npm start`); where the engine lives in the Berth VM,
 * VmEngine (vm-engine.ts) drives packages/machine behind the same interface. An app pointed at an engine it did not start cannot control it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { EngineClient } from '@berth/engine-client';

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

export interface NativeEngineOptions {
  /** The unix socket berthd listens on. */
  socket: string;
  /** berthd's entry: packages/runtime/dist/cli/berthd.js, or the packaged bundle. */
  berthdJs: string;
  /** Node, or Electron run as Node (the default: this process's executable). */
  runtime?: string;
  /** More berthd flags (`--data-root DIR`…). */
  args?: readonly string[];
  /** Where berthd's output goes: `inherit` under `npm start`, nowhere in the app. */
  stdio?: 'ignore' | 'inherit';
  /** Milliseconds start() waits for `/_ping` (default 30 s). */
  readyTimeoutMs?: number;
  /** berthd exited without stop() asking it to (a crash). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** berthd as a child process; start() resolves once it answers on its socket. */
export class NativeEngine implements EngineController {
  readonly controllable = true;
  private child: ChildProcess | undefined;
  private stopping = false;

  constructor(private readonly opts: NativeEngineOptions) {}

  /** DOCKER_HOST syntax, for @berth/engine-client. */
  get host(): string {
    return `unix://${this.opts.socket}`;
  }

  /** berthd's pid while it runs. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null
      ? this.child.pid
      : undefined;
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    const { socket, berthdJs, args = [], stdio = 'ignore' } = this.opts;
    mkdirSync(dirname(socket), { recursive: true });
    const child = spawn(
      this.opts.runtime ?? process.execPath,
      [berthdJs, '-H', this.host, ...args],
      { stdio, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } },
    );
    this.child = child;
    this.stopping = false;
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `berthd exited (${signal ?? `code ${code}`})`;
      if (!this.stopping && this.child === child) this.opts.onExit?.(code, signal);
    });
    child.once('error', (e) => (exited = `berthd did not start: ${e.message}`));
    const client = new EngineClient({ host: this.host });
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exited) throw new Error(exited);
      const up = await client.raw({ method: 'GET', path: '/_ping', timeoutMs: 1000 }).then(
        (res) => (res.resume(), true),
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`berthd did not answer on ${this.host} within the time allowed`);
      }
      await delay(100);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
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
