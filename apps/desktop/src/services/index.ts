/** The Node side of BerthApi: one engine client and monitor, a session per UI connection. */
import { EngineClient } from '@berth/engine-client';
import type { Settings } from '../shared/contract.js';
import { EngineMonitor } from './engine-monitor.js';
import { openSession, type EngineControl, type Emit, type Session } from './session.js';
import { SettingsStore } from './settings-store.js';

export interface BerthServices {
  client: EngineClient;
  monitor: EngineMonitor;
  settings: SettingsStore;
  openSession(emit: Emit): Session;
  close(): void;
}

export interface BerthServicesOptions {
  engineHost: string;
  pollMs?: number;
  /** Where settings are kept (default `~/.berth/desktop-settings.json`). */
  settingsFile?: string;
  /** Present when Berth manages the engine (restart from Troubleshoot). */
  engine?: EngineControl;
  engineLogFile?: string;
  vmConsole?: (tail: number) => string[];
  /** `vm` where the engine runs in the Berth VM. */
  mode?: 'native' | 'vm';
  /** The native folder picker (Electron's dialog); absent in the dashboard. */
  pickFolder?: () => Promise<string | null>;
  /** After each settings change (Electron applies start-at-login). */
  onSettingsChanged?: (s: Settings) => void;
}

export function createBerthServices(opts: BerthServicesOptions): BerthServices {
  const client = new EngineClient({ host: opts.engineHost });
  const monitor = new EngineMonitor(client, opts.pollMs, opts.mode ?? 'native');
  const settings = new SettingsStore(opts.settingsFile, opts.onSettingsChanged);
  const engine = opts.engine;
  const ctx = {
    settings,
    // Every UI sees a restart as it happens (stopped, then running).
    engine: engine && { restart: () => monitor.restarting(() => engine.restart()) },
    engineLogFile: opts.engineLogFile,
    vmConsole: opts.vmConsole,
    pickFolder: opts.pickFolder,
  };
  return {
    client,
    monitor,
    settings,
    openSession: (emit) => openSession(client, monitor, emit, ctx),
    close: () => monitor.close(),
  };
}

export { engineStatus, EngineMonitor } from './engine-monitor.js';
export { SettingsStore, defaultSettings, defaultSettingsFile } from './settings-store.js';
export type { EngineControl, Emit, Session, SessionContext } from './session.js';
