/**
 * The daemon's structured log: one JSON object per line (`time`, `level`, `msg`, fields), written
 * to `<data-root>/berthd.log` and, when asked, mirrored to stderr.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export interface FileLoggerOptions {
  /** File the lines are appended to; omitted means no file (stderr only, if enabled). */
  file?: string;
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Mirror every line to stderr (`--debug`). */
  stderr?: boolean;
  /** When the file grows past this many bytes it is renamed to `<file>.1` (one kept). */
  maxBytes?: number;
}

/** A request line every second for a day is ~15 MB; keep about a day or two. */
export const DEFAULT_MAX_LOG_BYTES = 32 * 1024 * 1024;

/** Where lines go; shared by a logger and all its children so one `close()` ends them all. */
class Sink {
  private fd: number | undefined;
  private size = 0;

  constructor(
    private readonly file: string | undefined,
    readonly minRank: number,
    private readonly toStderr: boolean,
    private readonly maxBytes: number,
  ) {
    if (file !== undefined) {
      mkdirSync(dirname(file), { recursive: true });
      this.open();
    }
  }

  private open(): void {
    if (this.file === undefined) return;
    this.fd = openSync(this.file, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** Moves the full file aside (replacing the previous `.1`) and starts a new one. */
  private rotate(): void {
    if (this.file === undefined) return;
    this.close();
    try {
      renameSync(this.file, `${this.file}.1`);
    } catch {
      // Keep appending to the same file rather than lose lines.
    }
    this.open();
  }

  write(line: string): void {
    // Synchronous appends: a line logged just before a crash or process.exit() is on disk,
    // and lines from concurrent requests never interleave mid-line.
    if (this.fd !== undefined) {
      try {
        if (this.size > 0 && this.size + line.length > this.maxBytes) this.rotate();
        if (this.fd !== undefined) this.size += writeSync(this.fd, line);
      } catch {
        // A full disk must not take the daemon down with it; stderr still gets the line.
      }
    }
    if (this.toStderr) process.stderr.write(line);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

class JsonLinesLogger implements Logger {
  constructor(
    private readonly sink: Sink,
    private readonly fields: Record<string, unknown>,
  ) {}

  private log(level: LogLevel, msg: string, extra?: Record<string, unknown>): void {
    if (LOG_LEVELS.indexOf(level) < this.sink.minRank) return;
    const entry: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      msg,
      ...this.fields,
    };
    for (const [k, v] of Object.entries(extra ?? {})) entry[k] = errorFields(v);
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      // Cyclic or BigInt fields: keep the message rather than lose the line.
      line = JSON.stringify({ time: entry.time, level, msg, fields: 'unserialisable' });
    }
    this.sink.write(`${line}\n`);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }

  child(fields: Record<string, unknown>): Logger {
    return new JsonLinesLogger(this.sink, { ...this.fields, ...fields });
  }
}

/** A JSON-lines logger; `close()` releases the file (children stop writing to it too). */
export function createLogger(options: FileLoggerOptions = {}): Logger & { close(): void } {
  const sink = new Sink(
    options.file,
    LOG_LEVELS.indexOf(options.level ?? 'info'),
    options.stderr ?? false,
    options.maxBytes ?? DEFAULT_MAX_LOG_BYTES,
  );
  const root = new JsonLinesLogger(sink, {});
  return Object.assign(root, { close: () => sink.close() });
}

/** A logger that drops everything (for tests that build an Engine by hand). */
export function nullLogger(): Logger {
  return createLogger({});
}
