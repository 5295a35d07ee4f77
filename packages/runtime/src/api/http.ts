/**
 * Small helpers shared by every route: JSON replies, bounded JSON bodies validated with zod,
 * Docker's query conventions (`1`/`true` booleans, the `filters` JSON map) and newline-delimited
 * JSON streams (pull/push progress, events).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { InvalidParameterError } from './errors.js';

const MAX_JSON_BODY = 16 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new InvalidParameterError(`request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses and validates a JSON body. An empty body is treated as `{}` only when `allowEmpty`;
 * Docker answers malformed JSON with 400.
 */
export async function readJson<S extends z.ZodType>(
  req: IncomingMessage,
  schema: S,
  { allowEmpty = false } = {},
): Promise<z.infer<S>> {
  const raw = (await readBody(req)).toString('utf8');
  if (raw.trim() === '') {
    if (allowEmpty) return parseWith(schema, {});
    throw new InvalidParameterError('empty request body');
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new InvalidParameterError(`invalid JSON: ${(err as Error).message}`);
  }
  return parseWith(schema, value);
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidParameterError(`invalid request${where}: ${issue?.message ?? 'bad value'}`);
  }
  return parsed.data;
}

/** Docker accepts `1`, `true`, `True` for true; absent means `fallback`. */
export function queryBool(query: URLSearchParams, name: string, fallback = false): boolean {
  const v = query.get(name);
  if (v === null || v === '') return fallback;
  return !['0', 'false', 'False', 'no'].includes(v);
}

export function queryInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidParameterError(`invalid value for ${name}: ${v}`);
  return n;
}

/**
 * The `filters` parameter: JSON `{"key": ["v1", "v2"]}`, or the legacy
 * `{"key": {"v1": true}}` form older clients send. Returns key → values.
 */
export function queryFilters(query: URLSearchParams): Map<string, string[]> {
  const raw = query.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidParameterError(`invalid filter '${raw}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidParameterError(`invalid filter '${raw}'`);
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) out.set(key, value.map(String));
    else if (value && typeof value === 'object') {
      out.set(
        key,
        Object.entries(value as Record<string, unknown>)
          .filter(([, on]) => on === true)
          .map(([k]) => k),
      );
    } else throw new InvalidParameterError(`invalid filter '${raw}'`);
  }
  return out;
}

/** Refuses filter keys a route does not know, with Docker's message. */
export function checkFilterKeys(filters: Map<string, string[]>, allowed: readonly string[]): void {
  for (const key of filters.keys()) {
    if (!allowed.includes(key)) throw new InvalidParameterError(`invalid filter '${key}'`);
  }
}

/**
 * A newline-delimited JSON stream (Content-Type application/json, chunked), as Docker sends
 * for pull/push/load progress and events. Errors after the headers went out are sent as a
 * final `{"errorDetail": {...}, "error": ...}` message, which the docker CLI prints.
 */
export class JsonStream {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  write(message: unknown): void {
    this.start();
    this.res.write(`${JSON.stringify(message)}\r\n`);
  }

  error(message: string): void {
    this.write({ errorDetail: { message }, error: message });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json' });
  }

  get headersSent(): boolean {
    return this.started;
  }

  end(): void {
    this.start();
    this.res.end();
  }
}
