/**
 * The engine's event stream (`GET /events`, `docker events`). Producers call `emit`; the API
 * route subscribes with filters. Recent events are kept in a bounded ring so `since` can replay.
 */

/** Docker's event message shape (Type/Action/Actor plus the legacy status/id/from fields). */
export interface EngineEvent {
  Type: 'image' | 'container' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Unix seconds. */
  time: number;
  /** Unix nanoseconds. */
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

export interface EventBus {
  emit(
    type: EngineEvent['Type'],
    action: string,
    id: string,
    attributes?: Record<string, string>,
  ): void;
  /** Events with timeNano in [sinceNano, untilNano] from the ring, oldest first. */
  history(sinceNano: bigint, untilNano?: bigint): EngineEvent[];
  subscribe(listener: (event: EngineEvent) => void): () => void;
}

/** moby keeps the last 256 events; a desktop replays more history cheaply. */
export const DEFAULT_RING_SIZE = 1000;

interface Stored {
  event: EngineEvent;
  nano: bigint;
}

/** The in-memory EventBus: a ring of recent events plus synchronous fan-out to listeners. */
export class MemoryEventBus implements EventBus {
  private readonly ring: Stored[] = [];
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private lastNano = 0n;

  constructor(
    private readonly capacity = DEFAULT_RING_SIZE,
    /** Reports a listener that threw; a broken subscriber must not stop the producer. */
    private readonly onListenerError?: (err: unknown) => void,
  ) {}

  emit(
    type: EngineEvent['Type'],
    action: string,
    id: string,
    attributes: Record<string, string> = {},
  ): void {
    // Strictly increasing timestamps keep `since`/`until` replay ordered and unambiguous even
    // for events emitted within the same millisecond. `timeNano` goes out as a JSON number,
    // which cannot hold every nanosecond near 2^61, so the stored value is rounded to what the
    // client will read back; steps of 1024 ns survive that rounding (doubles there are 256 ns
    // apart).
    const representable = (n: bigint) => BigInt(Number(n));
    let nano = representable(BigInt(Date.now()) * 1_000_000n);
    if (nano <= this.lastNano) nano = representable(this.lastNano + 1024n);
    this.lastNano = nano;
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: { ...attributes } },
      scope: 'local',
      time: Number(nano / 1_000_000_000n),
      timeNano: Number(nano),
    };
    // moby fills the deprecated top-level fields for containers and images only.
    if (type === 'container' || type === 'image') {
      event.status = action;
      event.id = id;
      if (type === 'container' && attributes.image !== undefined) event.from = attributes.image;
    }
    this.ring.push({ event, nano });
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError?.(err);
      }
    }
  }

  history(sinceNano: bigint, untilNano?: bigint): EngineEvent[] {
    return this.ring
      .filter((s) => s.nano >= sinceNano && (untilNano === undefined || s.nano <= untilNano))
      .map((s) => s.event);
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Number of live subscribers, the engine's own included. */
  get listenerCount(): number {
    return this.listeners.size;
  }
}
