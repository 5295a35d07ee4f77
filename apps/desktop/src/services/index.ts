/** The Node side of BerthApi: one engine client and monitor, a session per UI connection. */
import { EngineClient } from '@berth/engine-client';
import { EngineMonitor } from './engine-monitor.js';
import { openSession, type Emit, type Session } from './session.js';

export interface BerthServices {
  client: EngineClient;
  monitor: EngineMonitor;
  openSession(emit: Emit): Session;
  close(): void;
}

export function createBerthServices(opts: { engineHost: string; pollMs?: number }): BerthServices {
  const client = new EngineClient({ host: opts.engineHost });
  const monitor = new EngineMonitor(client, opts.pollMs);
  return {
    client,
    monitor,
    openSession: (emit) => openSession(client, monitor, emit),
    close: () => monitor.close(),
  };
}

export { engineStatus, EngineMonitor } from './engine-monitor.js';
export type { Emit, Session } from './session.js';
