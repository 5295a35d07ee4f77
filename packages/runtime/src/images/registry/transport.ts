/**
 * One HTTP(S) exchange with a registry over node:http/https, and the rule for which scheme a
 * registry gets: HTTPS always, plain HTTP only for loopback hosts and hosts the operator listed
 * as insecure (Docker's `insecure-registries`).
 */
import http from 'node:http';
import type https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { SystemError } from '../../api/errors.js';

const REQUEST_TIMEOUT_MS = 60_000;

/** The hostname of "host:port", "[::1]:5000" or "host" (brackets removed). */
export function hostnameOf(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const colons = domain.split(':').length - 1;
  return colons === 1 ? domain.slice(0, domain.indexOf(':')) : domain;
}

export function isLoopbackHost(domain: string): boolean {
  const h = hostnameOf(domain).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** "http" only for loopback or explicitly insecure registries (by host:port or by host). */
export function registryScheme(
  domain: string,
  insecureRegistries: readonly string[] = [],
): 'http' | 'https' {
  if (isLoopbackHost(domain)) return 'http';
  const host = hostnameOf(domain);
  return insecureRegistries.some((r) => r === domain || r === host) ? 'http' : 'https';
}

export interface SendOptions {
  method: string;
  url: URL;
  headers?: OutgoingHttpHeaders;
  /** A body to send: bytes, or a stream (then set content-length in headers). */
  body?: Buffer | Readable;
  signal?: AbortSignal | undefined;
}

/**
 * Sockets (and so responses) buffer 1 MiB: at Node's default 16 KiB, reading a blob stops and
 * restarts the socket at every 64 KiB chunk.
 */
const SOCKET_BUFFER_BYTES = 1 << 20;
// The agent hands its options to each net.Socket it creates (AgentOptions does not list them).
const agentOptions = { keepAlive: true, maxSockets: 16, highWaterMark: SOCKET_BUFFER_BYTES };
let agents: { http: http.Agent; https: https.Agent } | undefined;

/**
 * The module and keep-alive agent for a scheme. node:https (and with it node:tls) is loaded at
 * the first registry request, not with the daemon: it is ~130 ms of the VM's boot under
 * emulation, and many runs never pull.
 */
function client(isHttps: boolean): { mod: typeof http | typeof https; agent: http.Agent } {
  const tlsHttps = process.getBuiltinModule('node:https');
  agents ??= { http: new http.Agent(agentOptions), https: new tlsHttps.Agent(agentOptions) };
  return isHttps ? { mod: tlsHttps, agent: agents.https } : { mod: http, agent: agents.http };
}

/** Sends one request; resolves with the response head (the body is still to be read). */
export function send(opts: SendOptions): Promise<IncomingMessage> {
  const { url } = opts;
  const isHttps = url.protocol === 'https:';
  const { mod, agent } = client(isHttps);
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: opts.method,
      headers: { 'user-agent': 'berthd', ...opts.headers },
      agent,
      signal: opts.signal,
      timeout: REQUEST_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new SystemError(`${opts.method} "${url.href}": timeout`)));
    req.on('error', (err) => {
      reject(
        err instanceof SystemError || err.name === 'AbortError' ? err : wrapNetworkError(opts, err),
      );
    });
    req.on('response', resolve);
    const body = opts.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

function wrapNetworkError(opts: SendOptions, err: Error): SystemError {
  const method = opts.method[0] + opts.method.slice(1).toLowerCase();
  return new SystemError(`${method} "${opts.url.href}": ${err.message}`);
}

/** Reads a whole response body, refusing more than `limit` bytes. */
export async function readBody(res: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      res.destroy();
      throw new SystemError(`registry response exceeds ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads and drops the body, so the keep-alive socket can be reused. */
export async function discardBody(res: IncomingMessage): Promise<void> {
  res.resume();
  await new Promise<void>((resolve) => {
    if (res.complete) resolve();
    res.on('end', resolve);
    res.on('error', () => resolve());
    res.on('close', () => resolve());
  });
}
