/**
 * Hijacked connections (attach, exec start): the client sends `Connection: Upgrade` +
 * `Upgrade: tcp`, the engine answers `101 UPGRADED` and both sides then speak raw bytes on the
 * socket — stdin one way, output the other, each side half-closing when done.
 *
 * Node hands such requests to the server's 'upgrade' listener with the bare socket (its HTTP
 * parser detached, so stdin bytes are never parsed as HTTP). acceptUpgrades() routes them
 * through the normal request path with a response bound to that socket, so ordinary errors
 * (404, 409) still go out as JSON; a handler that wants the stream calls hijack().
 */
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const upgraded = new WeakMap<IncomingMessage, { socket: Socket; head: Buffer }>();

export function acceptUpgrades(server: Server): void {
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgraded.set(req, { socket, head });
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    // A non-hijacked reply ends the exchange: this socket has no parser for a next request.
    res.once('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    server.emit('request', req, res);
  });
}

/** Whether the client asked to upgrade (the docker CLI always does for attach/exec). */
export function wantsUpgrade(req: IncomingMessage): boolean {
  return upgraded.has(req);
}

/**
 * Takes over the connection and returns the raw stream: `101 UPGRADED` for an upgrade
 * request, else `200 OK` with the stream as the body (the socket closes at its end).
 */
export function hijack(req: IncomingMessage, res: ServerResponse, contentType: string): Duplex {
  const up = upgraded.get(req);
  if (up) {
    res.detachSocket(up.socket);
    up.socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    if (up.head.length > 0) up.socket.unshift(up.head);
    up.socket.setNoDelay(true);
    return up.socket;
  }
  const socket = req.socket;
  res.detachSocket(socket);
  socket.removeAllListeners('data');
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
  return socket;
}
