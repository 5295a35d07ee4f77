/**
 * The dashboard server: the built UI and BerthApi over a WebSocket, on 127.0.0.1 only, behind
 * a random token (see guard.ts). For headless Linux and for the end-to-end tests; Electron
 * serves the same UI through its preload instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { DASHBOARD_WS_PATH, dispatch, eventFrame, type ServerFrame } from '../shared/contract.js';
import {
  createBerthServices,
  type BerthServices,
  type BerthServicesOptions,
} from '../services/index.js';
import { Guard, tokenCookie } from './guard.js';

/** Where Vite puts the renderer (`npm run build -w apps/desktop`). */
export const RENDERER_DIR = fileURLToPath(new URL('../renderer/', import.meta.url));

export interface DashboardOptions extends Omit<BerthServicesOptions, 'onSettingsChanged'> {
  /** The engine's address, DOCKER_HOST syntax (`unix:///run/berth/berth.sock`). */
  engineHost: string;
  /** 0 (default) picks a free port. */
  port?: number;
  rendererDir?: string;
  /** Milliseconds between engine status polls. */
  pollMs?: number;
}

export interface Dashboard {
  /** Open this: `http://127.0.0.1:PORT/?token=…`. */
  url: string;
  /** `http://127.0.0.1:PORT`, the only origin allowed. */
  origin: string;
  token: string;
  /** The services behind the socket (boot progress and settings for whoever runs the engine). */
  services: BerthServices;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

function csp(origin: string): string {
  const ws = origin.replace(/^http/, 'ws');
  return [
    "default-src 'none'",
    "script-src 'self'",
    // xterm.js sizes and colours its screen through <style> elements it creates at run time;
    // scripts stay 'self' only, so injected markup still cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(`${text}\n`);
}

function refuseUpgrade(socket: Duplex, status: 401 | 403): void {
  const text = status === 401 ? 'Unauthorized' : 'Forbidden';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const token = randomBytes(24).toString('base64url');
  const rendererDir = opts.rendererDir ?? RENDERER_DIR;
  const services = createBerthServices(opts);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  // Both are set once the port is known, before the first request can arrive.
  let origin = 'http://127.0.0.1';
  let guard = new Guard(token, origin);

  async function serveFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const rel = normalize(decodeURIComponent(path === '/' ? '/index.html' : path));
    const file = join(rendererDir, rel);
    if (!file.startsWith(rendererDir.endsWith(sep) ? rendererDir : rendererDir + sep))
      return refuse(res, 404, 'not found');
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      if (rel === `${sep}index.html` && !existsSync(rendererDir))
        return refuse(res, 503, 'The UI is not built: run `npm run build -w apps/desktop`.');
      return refuse(res, 404, 'not found');
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': body.length,
      'Content-Security-Policy': csp(origin),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': rel.startsWith(`${sep}assets${sep}`) ? 'max-age=3600' : 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const verdict = guard.http(req, url);
    if (!verdict.ok) return refuse(res, verdict.status, verdict.reason);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return refuse(res, 405, 'method not allowed');
    if (url.searchParams.has('token')) {
      // Trade the token in the URL for a cookie, and drop it from the address bar and history.
      res.writeHead(303, {
        'Set-Cookie': tokenCookie(token),
        Location: '/',
        'Cache-Control': 'no-store',
      });
      res.end();
      return;
    }
    serveFile(req, res, url.pathname).catch(() => refuse(res, 500, 'internal error'));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname !== DASHBOARD_WS_PATH) return refuseUpgrade(socket, 403);
    const verdict = guard.websocket(req);
    if (!verdict.ok) return refuseUpgrade(socket, verdict.status);
    wss.handleUpgrade(req, socket, head, (ws) => connect(ws));
  });

  function connect(ws: WebSocket): void {
    const send = (frame: ServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const session = services.openSession((event, payload) => send(eventFrame(event, payload)));
    ws.on('message', (data: Buffer) => {
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString('utf8'));
      } catch {
        frame = undefined;
      }
      void dispatch(session.handlers, frame).then(send);
    });
    ws.on('close', () => session.close());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  guard = new Guard(token, origin);

  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    services,
    close: async () => {
      services.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
