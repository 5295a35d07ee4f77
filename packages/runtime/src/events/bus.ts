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
