/**
 * Published ports, driven by berthd's /events: every container event re-reads the container
 * list and, when the set of published ports changed, tells the subscribers.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { engineGet, engineStream } from './engine-http.js';
import type { PublishedPort } from './protocol.js';

const ContainerListSchema = z.array(
  z.object({
    Id: z.string(),
    Names: z.array(z.string()).default([]),
    Ports: z
      .array(
        z.object({
          IP: z.string().optional(),
          PrivatePort: z.number(),
          PublicPort: z.number().optional(),
          Type: z.string(),
        }),
      )
      .nullish(),
    NetworkSettings: z
      .object({
        Networks: z
          .record(z.string(), z.object({ IPAddress: z.string().nullish() }).nullable())
          .nullish(),
      })
      .nullish(),
  }),
);
type ContainerList = z.infer<typeof ContainerListSchema>;

/** Where a forwarded connection to a published TCP port is sent inside the guest. */
export interface PortTarget {
  host: string;
  port: number;
}

/**
 * Published TCP ports (by guest port) → the container's own address and port. A forwarded
 * connection goes there directly instead of through berthd's userland proxy on the guest's
 * loopback: one emulated copy loop less per byte. Containers without an IPv4 address (host
 * network) have no entry and keep the proxy.
 */
export function portTargets(list: ContainerList): Map<number, PortTarget> {
  const out = new Map<number, PortTarget>();
  for (const c of list) {
    const address = Object.values(c.NetworkSettings?.Networks ?? {})
      .map((n) => n?.IPAddress ?? '')
      .find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip));
    if (!address) continue;
    for (const p of c.Ports ?? []) {
      if (p.PublicPort && p.Type === 'tcp')
        out.set(p.PublicPort, { host: address, port: p.PrivatePort });
    }
  }
  return out;
}

/** Docker lists a binding once per address family; the host needs it once. */
export function publishedPorts(list: ContainerList): PublishedPort[] {
  const out = new Map<string, PublishedPort>();
  for (const c of list) {
    for (const p of c.Ports ?? []) {
      if (!p.PublicPort || (p.Type !== 'tcp' && p.Type !== 'udp')) continue;
      const ip = p.IP ?? '';
      const key = `${p.Type}/${p.PublicPort}`;
      const prev = out.get(key);
      if (prev && !(prev.hostIp.includes(':') && !ip.includes(':'))) continue;
      out.set(key, {
        containerId: c.Id,
        containerName: (c.Names[0] ?? '').replace(/^\//, ''),
        protocol: p.Type,
        hostIp: ip === '::' ? '0.0.0.0' : ip,
        hostPort: p.PublicPort,
        guestPort: p.PublicPort,
        containerPort: p.PrivatePort,
      });
    }
  }
  return [...out.values()].sort(
    (a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol),
  );
}

export class PortWatcher extends EventEmitter<{ ports: [PublishedPort[]]; warning: [string] }> {
  private current: PublishedPort[] = [];
  private targets = new Map<number, PortTarget>();
  private stopped = false;
  private abort: (() => void) | undefined;

  constructor(private readonly socketPath: string) {
    super();
  }

  get ports(): PublishedPort[] {
    return this.current;
  }

  /** The container behind a published TCP port, as of the last refresh. */
  target(guestPort: number): PortTarget | undefined {
    return this.targets.get(guestPort);
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.();
  }

  async refresh(): Promise<void> {
    const r = await engineGet(this.socketPath, '/containers/json');
    if (r.status !== 200) throw new Error(`GET /containers/json: status ${r.status}`);
    const list = ContainerListSchema.parse(JSON.parse(r.body));
    this.targets = portTargets(list);
    const next = publishedPorts(list);
    if (JSON.stringify(next) !== JSON.stringify(this.current)) {
      this.current = next;
      this.emit('ports', next);
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
        const res = await engineStream(this.socketPath, `/events?filters=${filters}`);
        this.abort = () => res.destroy();
        // Subscribed first, then read: nothing that happens in between is missed.
        await this.refresh();
        failures = 0;
        let buffered = '';
        let refreshing: Promise<void> = Promise.resolve();
        for await (const chunk of res) {
          buffered += (chunk as Buffer).toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          if (lines.some((l) => l.trim())) {
            refreshing = refreshing.then(() => this.refresh()).catch((e: unknown) => this.warn(e));
          }
        }
        await refreshing;
      } catch (err) {
        if (this.stopped) return;
        failures++;
        if (failures > 3) this.warn(err);
      }
      if (!this.stopped) await sleep(Math.min(250 * 2 ** Math.min(failures, 5), 5_000));
    }
  }

  private warn(err: unknown): void {
    this.emit('warning', `port watcher: ${(err as Error).message}`);
  }
}
