/**
 * Berth without Electron (`npm start` where the Electron binary is missing, headless Linux, and
 * tests): the engine the launch plan names plus the dashboard server in front of it, with
 * Troubleshoot → Restart wired to that engine. A native berthd is up before the URL is given;
 * the VM boots after it, its stages showing in the status bar (and through `onProgress`).
 */
import { engineClientHost, Machine, type Progress } from '@berth/machine';
import {
  externalEngine,
  NativeEngine,
  type EngineController,
  type NativeEngineOptions,
} from '../main/engine-controller.js';
import type { EnginePlan } from '../main/launch-plan.js';
import { VmEngine } from '../main/vm-engine.js';
import { startDashboard, type Dashboard, type DashboardOptions } from './dashboard.js';

export interface HeadlessOptions extends Omit<
  DashboardOptions,
  'engineHost' | 'engine' | 'mode' | 'vmConsole'
> {
  plan: EnginePlan;
  /** For a native engine: berthd's entry and how to run it. */
  native?: Omit<NativeEngineOptions, 'socket'>;
  /** For a VM engine (default: the `default` machine under ~/.berth). */
  machine?: Machine;
  /** Boot progress of the VM, for a terminal. */
  onProgress?: (p: Progress) => void;
  /** What the VM reports besides progress: an accelerator fallback, a port the host had taken. */
  onNotice?: (message: string) => void;
}

export interface Headless {
  dashboard: Dashboard;
  /** What Troubleshoot → Restart drives (externalEngine when Berth does not manage it). */
  engine: EngineController;
  engineHost: string;
  /** Settles when the engine first answers (a VM's boot), or with why it did not. */
  ready: Promise<void>;
  /** Closes the dashboard and stops the engine it started. */
  close(): Promise<void>;
}

export async function startHeadless(opts: HeadlessOptions): Promise<Headless> {
  const { plan, native, machine: givenMachine, onProgress, onNotice, ...dashboardOpts } = opts;
  let engine: EngineController = externalEngine;
  let engineHost: string;
  let ready: Promise<void>;
  let dashboard: Dashboard;

  if (plan.kind === 'native') {
    if (!native) throw new Error('a native engine needs berthd (options.native.berthdJs)');
    engine = new NativeEngine({ ...native, socket: plan.socket });
    engineHost = plan.host;
    await engine.start();
    dashboard = await startDashboard({
      ...dashboardOpts,
      engineHost,
      mode: 'native',
      engine: { restart: () => engine.restart() },
    });
    ready = Promise.resolve();
  } else if (plan.kind === 'vm') {
    const machine = givenMachine ?? new Machine();
    machine.on('event', (e) => {
      if (e.type === 'notice') onNotice?.(e.message);
      else if (e.type === 'port-error')
        onNotice?.(
          `${e.port.containerName}: port ${e.port.hostPort}/${e.port.protocol} is not published on the host: ${e.message}`,
        );
    });
    engineHost = engineClientHost(machine.dockerSocket);
    dashboard = await startDashboard({
      ...dashboardOpts,
      engineHost,
      mode: 'vm',
      engine: { restart: () => engine.restart() },
      vmConsole: (tail) => machine.logs().split('\n').slice(-tail),
    });
    const { services } = dashboard;
    engine = new VmEngine(
      () => services.settings.get(),
      (p, failure) => {
        services.monitor.reportBoot(p, failure);
        if (p) onProgress?.(p);
      },
      machine,
    );
    ready = engine.start();
    // The caller may only look at `ready` later; a failed boot is still reported there.
    ready.catch(() => undefined);
  } else {
    engineHost = plan.host;
    dashboard = await startDashboard({ ...dashboardOpts, engineHost });
    ready = Promise.resolve();
  }

  return {
    dashboard,
    get engine() {
      return engine;
    },
    engineHost,
    ready,
    close: async () => {
      await dashboard.close();
      if (engine.controllable) await engine.stop().catch(() => undefined);
    },
  };
}
