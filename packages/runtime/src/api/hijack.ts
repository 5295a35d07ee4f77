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

/** A taken-over connection and the request body that came with it. */
export interface Hijacked {
  conn: Duplex;
  /**
   * An upgrade request's body: Node does not parse it, so it is the first Content-Length
   * bytes on the connection, read off here (bounded in size and time). Empty otherwise —
   * read a plain request's body with readBody/readJson before hijacking.
   */
  body: Buffer;
}

/**
 * Takes over the connection and returns the raw stream: `101 UPGRADED` for an upgrade
 * request, else `200 OK` with the stream as the body (the socket closes at its end).
 */
export async function hijack(
  req: IncomingMessage,
  res: ServerResponse,
  contentType: string,
): Promise<Hijacked> {
  const up = upgraded.get(req);
  if (up) {
    res.detachSocket(up.socket);
    up.socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    if (up.head.length > 0) up.socket.unshift(up.head);
    up.socket.setNoDelay(true);
    const length = Number(req.headers['content-length'] ?? 0);
    const body = await takeBytes(up.socket, Number.isInteger(length) ? length : 0);
    return { conn: up.socket, body };
  }
  const socket = req.socket;
  res.detachSocket(socket);
  socket.removeAllListeners('data');
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`);
  return { conn: socket, body: Buffer.alloc(0) };
}

const MAX_UPGRADE_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;

/** Reads the first `n` bytes of a hijacked connection (bounded in size and time). */
async function takeBytes(conn: Duplex, n: number): Promise<Buffer> {
  const want = Math.min(Math.max(n, 0), MAX_UPGRADE_BODY);
  const chunks: Buffer[] = [];
  let got = 0;
  const deadline = Date.now() + BODY_TIMEOUT_MS;
  while (got < want && Date.now() < deadline && !conn.readableEnded && !conn.destroyed) {
    const chunk = conn.read() as Buffer | null;
    if (chunk === null) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          conn.off('readable', done);
          conn.off('end', done);
          conn.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        conn.once('readable', done);
        conn.once('end', done);
        conn.once('close', done);
      });
      continue;
    }
    const take = Math.min(chunk.length, want - got);
    chunks.push(chunk.subarray(0, take));
    got += take;
    if (take < chunk.length) conn.unshift(chunk.subarray(take));
  }
  return Buffer.concat(chunks);
}
