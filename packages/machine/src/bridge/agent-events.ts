/**
 * The agent's event channel: a stream of AgentEvents (NDJSON), reopened every time the link
 * comes back, so a restarted guest re-sends its full port snapshot.
 */
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Client } from 'ssh2';
import { AgentEventSchema, EXEC_EVENTS, type AgentEvent } from '@berth/vm-image/protocol';
import type { AgentLink } from './agent-link.js';

interface AgentEventsEvents {
  event: [AgentEvent];
  /** A line the host could not parse or a channel that failed: shown, never fatal. */
  problem: [string];
}

export class AgentEvents extends EventEmitter<AgentEventsEvents> {
  private readonly onUp = (client: Client) => this.subscribe(client);

  constructor(private readonly link: AgentLink) {
    super();
  }

  start(): void {
    this.link.on('up', this.onUp);
    if (this.link.connected) void this.link.client().then(this.onUp, () => undefined);
  }

  stop(): void {
    this.link.off('up', this.onUp);
  }

  private subscribe(client: Client): void {
    client.exec(EXEC_EVENTS, (err, channel) => {
      if (err) {
        this.emit('problem', `event channel: ${err.message}`);
        return;
      }
      const lines = createInterface({ input: channel });
      lines.on('line', (line) => {
        if (!line.trim()) return;
        let parsed;
        try {
          parsed = AgentEventSchema.safeParse(JSON.parse(line));
        } catch {
          parsed = undefined;
        }
        if (parsed?.success) this.emit('event', parsed.data);
        else this.emit('problem', `unreadable agent event: ${line.slice(0, 200)}`);
      });
      channel.stderr.on('data', (b: Buffer) => this.emit('problem', b.toString().trim()));
    });
  }
}
