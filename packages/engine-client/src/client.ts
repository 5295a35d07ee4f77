/**
 * The request core of Berth's Engine API client: one `request()` for JSON calls, `raw()` for
 * streams, `jsonStream()` for progress/events. Addresses use DOCKER_HOST's syntax. The API version
 * is negotiated once through `/_ping` (the lower of ours and the engine's), as the docker CLI does.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { z } from 'zod';
import { EngineUnreachableError, errorForStatus } from './errors.js';
import { jsonMessages } from './streams.js';

/** The highest Engine API version this client speaks. */
export const CLIENT_API_VERSION = '1.56';

export type QueryValue = string | number | boolean | undefined | null | string[] | object;

export interface RequestSpec<S extends z.ZodType = z.ZodType> {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Objects and arrays are JSON-encoded (Docker's `filters`, `buildargs`). */
  query?: Record<string, QueryValue>;
  /** JSON-encoded unless a Buffer or stream. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Validates the JSON reply; the result is typed by it. */
  schema?: S;
  /** Milliseconds before giving up on a reply (not applied to streams once they started). */
  timeoutMs?: number;
  /** Aborting destroys the request, or the response stream once it has started. */
  signal?: AbortSignal;
}

export interface EngineClientOptions {
  /** `unix:///path/to.sock`, `npipe:////./pipe/NAME` or `tcp://127.0.0.1:2375`. */
  host: string;
  /** Pin a version instead of negotiating. */
  apiVersion?: string;
}

export type EngineAddress = { socketPath: string } | { host: string; port: number };

/** DOCKER_HOST syntax as Node's http connects to it (a named pipe is a socketPath too). */
export function engineAddress(host: string): EngineAddress {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  // `npipe:////./pipe/NAME`, as Docker writes it on Windows → `\\.\pipe\NAME`.
  if (host.startsWith('npipe://'))
    return { socketPath: host.slice('npipe://'.length).replaceAll('/', '\\') };
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  if (host.startsWith('/')) return { socketPath: host };
  throw new Error(`unsupported engine address: ${host}`);
}

function encodeQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    params.set(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function messageOf(body: Buffer, statusCode: number): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body.toString('utf8').trim() || `engine answered ${statusCode}`;
}

export class EngineClient {
  private readonly address: EngineAddress;
  private version: Promise<string> | undefined;

  constructor(private readonly options: EngineClientOptions) {
    this.address = engineAddress(options.host);
    if (options.apiVersion) this.version = Promise.resolve(options.apiVersion);
  }

  /** The client for `DOCKER_HOST`, or `fallbackHost` when it is unset. */
  static fromEnv(fallbackHost: string, env: NodeJS.ProcessEnv = process.env): EngineClient {
    return new EngineClient({ host: env['DOCKER_HOST'] || fallbackHost });
  }

  get host(): string {
    return this.options.host;
  }

  /** Sends a request and returns the response once its status is 2xx; throws typed errors. */
  async raw(spec: RequestSpec): Promise<IncomingMessage> {
    const { req, body } = await this.open(spec, {});
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (e) => reject(this.connectionError(e)));
      this.send(req, body);
    });
    return this.accept(res);
  }

  /**
   * A hijacked connection (exec start, attach): asks to upgrade to a raw stream and returns the
   * socket once the engine answers `101`. An engine that refuses (404, 409) answers with an
   * ordinary JSON error, thrown typed. The caller ends the socket when done.
   */
  async hijack(spec: RequestSpec): Promise<Socket> {
    const { req, body } = await this.open(spec, { Connection: 'Upgrade', Upgrade: 'tcp' });
    return new Promise<Socket>((resolve, reject) => {
      req.once('upgrade', (_res: IncomingMessage, socket: Socket, head: Buffer) => {
        if (head.length > 0) socket.unshift(head);
        socket.setNoDelay(true);
        spec.signal?.addEventListener('abort', () => socket.destroy(), { once: true });
        resolve(socket);
      });
      req.once('response', (res: IncomingMessage) => {
        this.accept(res).then((r) => {
          // A 2xx without upgrading: not a stream this client can write to.
          r.destroy();
          reject(new Error(`${spec.path}: the engine did not upgrade the connection`));
        }, reject);
      });
      req.once('error', (e) => reject(this.connectionError(e)));
      this.send(req, body);
    });
  }

  /** Nothing listening at the address is its own error, with words for people. */
  private connectionError(err: Error): Error {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES'
      ? new EngineUnreachableError(this.options.host, err)
      : err;
  }

  private async open(
    spec: RequestSpec,
    extraHeaders: Record<string, string>,
  ): Promise<{ req: ClientRequest; body: Buffer | Readable | undefined }> {
    spec.signal?.throwIfAborted();
    const version = spec.path === '/_ping' ? undefined : await this.apiVersion();
    const path = `${version ? `/v${version}` : ''}${spec.path}${encodeQuery(spec.query)}`;
    const headers: Record<string, string> = { ...spec.headers, ...extraHeaders };
    let body: Buffer | Readable | undefined;
    if (spec.body instanceof Readable) body = spec.body;
    else if (Buffer.isBuffer(spec.body)) body = spec.body;
    else if (spec.body !== undefined) {
      body = Buffer.from(JSON.stringify(spec.body));
      headers['Content-Type'] ??= 'application/json';
    }
    if (Buffer.isBuffer(body)) headers['Content-Length'] = String(body.length);
    const req = httpRequest({ ...this.address, method: spec.method, path, headers });
    if (spec.timeoutMs) {
      req.setTimeout(spec.timeoutMs, () =>
        req.destroy(new Error(`timed out after ${spec.timeoutMs} ms`)),
      );
    }
    if (spec.signal) {
      const signal = spec.signal;
      const abort = () => req.destroy(signal.reason instanceof Error ? signal.reason : undefined);
      signal.addEventListener('abort', abort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', abort));
      req.once('response', (res: IncomingMessage) => {
        const end = () => res.destroy();
        if (signal.aborted) end();
        signal.addEventListener('abort', end, { once: true });
        res.once('close', () => signal.removeEventListener('abort', end));
      });
    }
    return { req, body };
  }

  private send(req: ClientRequest, body: Buffer | Readable | undefined): void {
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  }

  private async accept(res: IncomingMessage): Promise<IncomingMessage> {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    throw errorForStatus(status, messageOf(await readAll(res), status));
  }

  /** A JSON call: the parsed (and, with a schema, validated) reply; undefined for empty bodies. */
  async request<S extends z.ZodType>(spec: RequestSpec<S> & { schema: S }): Promise<z.infer<S>>;
  async request(spec: RequestSpec): Promise<unknown>;
  async request(spec: RequestSpec): Promise<unknown> {
    const res = await this.raw(spec);
    const text = (await readAll(res)).toString('utf8');
    const contentType = res.headers['content-type'] ?? '';
    const value: unknown =
      text === '' ? undefined : contentType.includes('json') ? JSON.parse(text) : text;
    return spec.schema ? spec.schema.parse(value) : value;
  }

  /**
   * Newline-delimited JSON messages (pull/push/load progress, events). A message carrying
   * `error` ends the stream with that error, as the docker CLI reports it.
   */
  async *jsonStream(spec: RequestSpec): AsyncGenerator<Record<string, unknown>> {
    const res = await this.raw(spec);
    for await (const message of jsonMessages(res)) {
      const m = message as Record<string, unknown>;
      if (typeof m['error'] === 'string') throw errorForStatus(500, m['error']);
      yield m;
    }
  }

  /** The API version in use: negotiated through `/_ping` on first use. */
  apiVersion(): Promise<string> {
    this.version ??= this.negotiate().catch((e: unknown) => {
      // Not kept: an engine that is still starting (a VM boot, a restart) answers a later call.
      this.version = undefined;
      throw e;
    });
    return this.version;
  }

  private async negotiate(): Promise<string> {
    const res = await this.raw({ method: 'GET', path: '/_ping', timeoutMs: 10_000 });
    await readAll(res);
    const server = res.headers['api-version'];
    if (typeof server !== 'string') return CLIENT_API_VERSION;
    const [sMaj = 0, sMin = 0] = server.split('.').map(Number);
    const [cMaj = 0, cMin = 0] = CLIENT_API_VERSION.split('.').map(Number);
    return sMaj * 1000 + sMin < cMaj * 1000 + cMin ? server : CLIENT_API_VERSION;
  }
}
