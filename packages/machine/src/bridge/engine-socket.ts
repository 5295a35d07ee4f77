/**
 * The engine on the host: a unix socket (0600) where every accepted connection is carried over
 * its own SSH channel to berthd's socket in the guest. It is bytes both ways, so hijacked
 * attach/exec streams work unchanged; each direction's end is passed on separately (half-close),
 * which `docker exec -i` relies on when its stdin ends.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ENGINE_SOCKET } from '@berth/vm-image/protocol';
import type { AgentLink } from './agent-link.js';

export interface EngineSocketOptions {
  /** The host socket path (`~/.berth/run/docker.sock`). */
  path: string;
  link: AgentLink;
  /** The engine socket in the guest. */
  guestSocket?: string;
  /** Milliseconds a new connection waits for the agent while it (re)connects. */
  connectTimeoutMs?: number;
  onError?: (error: Error) => void;
}

export class EngineSocket {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();

  constructor(private readonly opts: EngineSocketOptions) {}

  async listen(): Promise<void> {
    const { path } = this.opts;
    const isPipe = path.startsWith('\\\\.\\pipe\\');
    if (!isPipe) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      rmSync(path, { force: true });
    }
    const server = createServer({ allowHalfOpen: true }, (socket) => this.carry(socket));
    // umask-independent: the socket is created, then tightened before anything can be accepted
    // by an unprivileged peer (the directory is 0700 as well).
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A named pipe's default ACL already limits it to its creator and administrators.
    if (!isPipe) chmodSync(path, 0o600);
    this.server = server;
  }

  private carry(socket: Socket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    socket.pause();
    this.opts.link
      .openUnix(this.opts.guestSocket ?? ENGINE_SOCKET, this.opts.connectTimeoutMs ?? 30_000)
      .then((channel) => {
        socket.pipe(channel);
        channel.pipe(socket);
        socket.resume();
        const closeBoth = () => {
          socket.destroy();
          channel.destroy();
        };
        socket.once('error', closeBoth);
        channel.once('error', closeBoth);
        socket.once('close', () => channel.destroy());
        channel.once('close', () => {
          // Let what is buffered reach the client before the socket goes.
          if (socket.writableEnded) socket.destroySoon();
          else socket.end();
        });
      })
      .catch((e: unknown) => {
        this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
        socket.destroy();
      });
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (!this.opts.path.startsWith('\\\\.\\pipe\\')) rmSync(this.opts.path, { force: true });
  }
}
