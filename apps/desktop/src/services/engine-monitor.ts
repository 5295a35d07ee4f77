/**
 * Watches one engine for the whole Node process: its status (polled, since an engine that is
 * down sends nothing) and its /events stream, fanned out to every listener (each UI session).
 */
import type { IncomingMessage } from 'node:http';
import { jsonMessages, type EngineClient } from '@berth/engine-client';
import type { EngineEvent, EngineStatus } from '../shared/contract.js';
import { eventSchema, infoSchema, versionSchema } from './engine-schemas.js';

export interface MonitorListener {
  status?(status: EngineStatus): void;
  event?(event: EngineEvent): void;
}

/** The engine's status now: version and counts when it answers, the reason when not. */
export async function engineStatus(
  client: EngineClient,
  mode: EngineStatus['mode'] = 'native',
): Promise<EngineStatus> {
  try {
    const [version, info] = await Promise.all([
      client.request({ method: 'GET', path: '/version', schema: versionSchema, timeoutMs: 5000 }),
      client.request({ method: 'GET', path: '/info', schema: infoSchema, timeoutMs: 5000 }),
    ]);
    return {
      state: 'running',
      host: client.host,
      mode,
      version: version.Version,
      apiVersion: version.ApiVersion,
      os: version.Os,
      arch: version.Arch,
      cpus: info.NCPU,
      memTotal: info.MemTotal,
      containers: info.Containers,
      containersRunning: info.ContainersRunning,
      images: info.Images,
    };
  } catch (e) {
    return {
      state: 'unreachable',
      host: client.host,
      mode,
      message: e instanceof Error ? e.message : String(e),
    };
  }
}

export class EngineMonitor {
  private readonly listeners = new Set<MonitorListener>();
  private last: EngineStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private events: IncomingMessage | undefined;
  private following = false;
  private closed = false;

  private boot: EngineStatus['boot'];
  /** Why the VM did not start, until its next start. */
  private failure: string | undefined;
  /** Set while Berth restarts the engine: the old instance may still answer for a moment. */
  private transition: string | undefined;

  constructor(
    private readonly client: EngineClient,
    private readonly pollMs = 3000,
    readonly mode: EngineStatus['mode'] = 'native',
  ) {}

  /**
   * The VM's boot progress, from packages/machine's Machine service (its progress events);
   * undefined once it is up or when there is no VM. Shown with the status until then; `failure`
   * (why a start failed) replaces the socket error an unreachable engine would show.
   */
  reportBoot(progress: EngineStatus['boot'], failure?: string): void {
    this.boot = progress;
    this.failure = failure;
    if (!this.last) return;
    this.publish({
      ...this.last,
      boot: progress,
      ...(failure && this.last.state !== 'running' ? { message: failure } : {}),
    });
  }

  /** The status now, with the boot progress when the VM is starting. */
  async status(): Promise<EngineStatus> {
    if (this.transition)
      return {
        state: 'unreachable',
        host: this.client.host,
        mode: this.mode,
        message: this.transition,
        ...(this.boot ? { boot: this.boot } : {}),
      };
    const s = await engineStatus(this.client, this.mode);
    if (s.state === 'running') return s;
    return {
      ...s,
      ...(this.boot ? { boot: this.boot } : {}),
      ...(this.failure ? { message: this.failure } : {}),
    };
  }

  /**
   * Runs a restart of the engine: every UI sees it stopped from the first moment (not only if
   * a poll happens to fall in the gap) and running again as soon as it answers.
   */
  async restarting(restart: () => Promise<void>): Promise<void> {
    this.transition = 'Restarting the engine…';
    try {
      this.publish(await this.status());
      await restart();
    } finally {
      this.transition = undefined;
      this.publish(await this.status());
    }
  }

  private publish(status: EngineStatus): void {
    if (JSON.stringify(status) === JSON.stringify(this.last)) return;
    this.last = status;
    for (const l of this.listeners) l.status?.(status);
  }

  subscribe(listener: MonitorListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.startPolling();
    if (this.last) listener.status?.(this.last);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private startPolling(): void {
    const tick = async () => {
      this.timer = undefined;
      const status = await this.status();
      if (this.closed || this.listeners.size === 0) return;
      this.publish(status);
      if (status.state === 'running' && !this.following) this.followEvents();
      this.timer = setTimeout(() => void tick(), this.pollMs);
    };
    void tick();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.events?.destroy();
    this.events = undefined;
    this.last = undefined;
  }

  private followEvents(): void {
    this.following = true;
    const run = async () => {
      const res = await this.client.raw({ method: 'GET', path: '/events' });
      if (this.closed || this.listeners.size === 0) {
        res.destroy();
        return;
      }
      this.events = res;
      for await (const raw of jsonMessages(res)) {
        const parsed = eventSchema.safeParse(raw);
        if (!parsed.success) continue;
        const ev: EngineEvent = {
          type: parsed.data.Type ?? '',
          action: parsed.data.Action ?? '',
          id: parsed.data.Actor?.ID ?? '',
        };
        for (const l of this.listeners) l.event?.(ev);
      }
    };
    // A broken stream is picked up again by the next poll that finds the engine running.
    run()
      .catch(() => undefined)
      .finally(() => {
        this.events = undefined;
        this.following = false;
      });
  }
}
