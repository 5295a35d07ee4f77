/**
 * The real guest agent (packages/vm-image's ssh2 server) run on the host, so the bridge is
 * tested against the agent's own code without a VM. Only its port watcher is replaced: tests
 * publish port snapshots themselves (the engine's events drive the real one in the guest).
 */
import { PortWatcher } from '@berth/vm-image/agent/ports';
import { startAgentServer, type AgentServer } from '@berth/vm-image/agent/server';
import type { PublishedPort } from '@berth/vm-image/protocol';
import { generateMachineKeys, type MachineKeys } from '../keys.js';

/** A port watcher whose snapshots the test sets. */
export class ScriptedPorts extends PortWatcher {
  private snapshot: PublishedPort[] = [];

  constructor() {
    super('/nonexistent');
  }

  override get ports(): PublishedPort[] {
    return this.snapshot;
  }

  override start(): void {}

  publish(ports: PublishedPort[]): void {
    this.snapshot = ports;
    this.emit('ports', ports);
  }
}

export interface HostAgent {
  server: AgentServer;
  keys: MachineKeys;
  ports: ScriptedPorts;
  address: { transport: 'tcp'; host: string; port: number };
  close(): Promise<void>;
}

export async function startHostAgent(opts: {
  engineSocket: string;
  keys?: MachineKeys;
  port?: number;
}): Promise<HostAgent> {
  const keys = opts.keys ?? generateMachineKeys('test');
  const ports = new ScriptedPorts();
  const server = await startAgentServer({
    hostKey: keys.hostPrivate,
    authorizedKeys: [keys.clientPublic],
    engineSocket: opts.engineSocket,
    ports,
    host: '127.0.0.1',
    port: opts.port ?? 0,
    hello: () => ({ image: 'host-test', kernel: 'host', uptime: process.uptime() }),
  });
  return {
    server,
    keys,
    ports,
    address: { transport: 'tcp', host: '127.0.0.1', port: server.port },
    close: () => server.close(),
  };
}
