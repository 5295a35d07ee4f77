/**
 * Docker's json-file log driver: one JSON object per line of output,
 * `{"log":"hi\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`, in
 * `<id>-json.log`, rotated to `.1`, `.2`, ... when `max-size` is reached (at most `max-file`
 * files in all). Lines longer than 16 KiB are split, as moby's copier does.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { z } from 'zod';
import { InvalidParameterError } from '../api/errors.js';
import { nowRfc3339Nano } from './state.js';

export type OutputStream = 'stdout' | 'stderr';

export interface LogEntry {
  stream: OutputStream;
  /** The line, with its newline when it had one. */
  log: string;
  /** RFC 3339 with nanoseconds. */
  time: string;
}

export interface LogOptions {
  /** 'none' keeps nothing (and `docker logs` is refused). */
  driver: 'json-file' | 'none';
  /** Bytes; 0 = unlimited. */
  maxSize: number;
  maxFile: number;
}

const MAX_LINE = 16 * 1024;
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** go-units RAMInBytes: "10m", "1.5k", "100" (bytes); binary multiples. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtb]?)(?:i?b)?$/i.exec(value.trim());
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) throw new InvalidParameterError(`invalid size: '${value}'`);
  return Math.floor(Number(m[1]) * unit);
}

/** HostConfig.LogConfig → options; 400 for what moby refuses. */
export function parseLogConfig(
  cfg:
    | { Type?: string | undefined; Config?: Record<string, string> | null | undefined }
    | null
    | undefined,
): LogOptions {
  const type = cfg?.Type || 'json-file';
  if (type !== 'json-file' && type !== 'none') {
    throw new InvalidParameterError(`logger: no log driver named '${type}' is registered`);
  }
  const opts = cfg?.Config ?? {};
  for (const key of Object.keys(opts)) {
    if (
      ![
        'max-size',
        'max-file',
        'compress',
        'labels',
        'env',
        'env-regex',
        'tag',
        'mode',
        'max-buffer-size',
      ].includes(key)
    ) {
      throw new InvalidParameterError(`unknown log opt '${key}' for json-file log driver`);
    }
  }
  const maxSize = opts['max-size'] ? parseSize(opts['max-size']) : 0;
  let maxFile = 1;
  if (opts['max-file'] !== undefined) {
    maxFile = Number(opts['max-file']);
    if (!Number.isInteger(maxFile) || maxFile < 1) {
      throw new InvalidParameterError('max-file cannot be less than 1');
    }
  }
  return { driver: type, maxSize, maxFile };
}

/** Writes one container's log; synchronous so entries land in order, even across rotations. */
export class JsonFileLog {
  private fd: number | undefined;
  private size = 0;
  private readonly pending: Record<OutputStream, string> = { stdout: '', stderr: '' };

  constructor(
    readonly path: string,
    private readonly opts: LogOptions,
  ) {}

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(this.path, 'a', 0o640);
      this.size = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  /**
   * Splits `chunk` into lines (keeping a partial last line for later) and writes each; returns
   * the entries written, for live followers.
   */
  write(stream: OutputStream, chunk: Buffer | string): LogEntry[] {
    let text = this.pending[stream] + chunk.toString();
    const out: LogEntry[] = [];
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0 || nl >= MAX_LINE) {
        if (text.length < MAX_LINE) break;
        out.push(this.append(stream, text.slice(0, MAX_LINE)));
        text = text.slice(MAX_LINE);
        continue;
      }
      out.push(this.append(stream, text.slice(0, nl + 1)));
      text = text.slice(nl + 1);
    }
    this.pending[stream] = text;
    return out;
  }

  /** Writes partial lines left at the end of the output. */
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.pending[stream]) out.push(this.append(stream, this.pending[stream]));
      this.pending[stream] = '';
    }
    return out;
  }

  private append(stream: OutputStream, log: string): LogEntry {
    const entry: LogEntry = { stream, log, time: nowRfc3339Nano() };
    if (this.opts.driver === 'none') return entry;
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    if (this.opts.maxSize > 0 && this.size > 0 && this.size + line.length > this.opts.maxSize) {
      this.rotate();
    }
    writeSync(this.open(), line);
    this.size += line.length;
    return entry;
  }

  private rotate(): void {
    this.close();
    const n = this.opts.maxFile;
    if (n <= 1) {
      rmSync(this.path, { force: true });
      return;
    }
    rmSync(`${this.path}.${n - 1}`, { force: true });
    for (let i = n - 2; i >= 1; i--) {
      if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    }
    if (existsSync(this.path)) renameSync(this.path, `${this.path}.1`);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

const entrySchema = z.object({
  log: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  time: z.string(),
});

/**
 * Every stored entry, oldest first (rotated files first). Synchronous on purpose: a follower
 * reads history and subscribes to live entries in one tick, so nothing is missed or doubled.
 */
export function readLogEntries(path: string, maxFile: number): LogEntry[] {
  const files: string[] = [];
  for (let i = Math.max(1, maxFile) - 1; i >= 1; i--) files.push(`${path}.${i}`);
  files.push(path);
  const out: LogEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const e = entrySchema.safeParse(JSON.parse(line));
        if (e.success) out.push(e.data);
      } catch {
        // a torn last line after a crash
      }
    }
  }
  return out;
}

/** Unix nanoseconds of an RFC 3339 nano timestamp. */
export function timeNanos(rfc3339: string): bigint {
  const m = /\.(\d{1,9})Z$/.exec(rfc3339);
  const ms = Date.parse(rfc3339);
  const sec = BigInt(Math.floor(ms / 1000));
  const frac = BigInt((m?.[1] ?? '').padEnd(9, '0') || '0');
  return sec * 1_000_000_000n + frac;
}
