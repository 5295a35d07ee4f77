/**
 * A container's stdio inside berthd: the output of the current run goes to the json-file log
 * and to every attached client; attached clients' input goes to the container's stdin. One
 * ContainerIo lives as long as the container (across restarts); each run connects its shim.
 *
 * Attach semantics (moby's): a client attached before start sees the run from its first byte;
 * the connection ends when the run's output ends; `logs=1` replays the stored log first; with
 * stdin, the detach keys (default ctrl-p,ctrl-q) end the client's attachment only.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { encodeFrame } from '@berth/engine-client';
import { InvalidParameterError } from '../api/errors.js';
import type { JsonFileLog, LogEntry, OutputStream } from './logs.js';

const MAX_PENDING_STDIN = 1024 * 1024;

export interface Chunk {
  stream: OutputStream;
  data: Buffer;
}

export class ContainerIo {
  private readonly chunkListeners = new Set<(c: Chunk) => void>();
  private readonly entryListeners = new Set<(e: LogEntry) => void>();
  private readonly runEndListeners = new Set<() => void>();
  private readonly runStartListeners = new Set<() => void>();
  private stdin: Writable | undefined;
  private closeStdinWhenStarted = false;
  running = false;

  /**
   * Wires a run's output to the log and to listeners; resolves when the output ended (the
   * shim is gone). `stdin` is the container's stdin FIFO, when it has one.
   */
  async connect(
    log: JsonFileLog,
    out: { stdout: Readable; stderr?: Readable | undefined; stdin?: Writable | undefined },
    ended: Promise<void>,
  ): Promise<void> {
    this.stdin = out.stdin;
    this.stdin?.on('error', () => undefined);
    for (const chunk of this.pendingStdin.splice(0)) this.stdin?.write(chunk);
    this.pendingBytes = 0;
    this.running = true;
    for (const l of [...this.runStartListeners]) l();
    const pump = (stream: OutputStream, r: Readable) => {
      r.on('data', (data: Buffer) => {
        for (const l of [...this.chunkListeners]) l({ stream, data });
        for (const e of log.write(stream, data)) for (const l of [...this.entryListeners]) l(e);
      });
      r.on('error', () => undefined);
    };
    pump('stdout', out.stdout);
    if (out.stderr) pump('stderr', out.stderr);
    if (this.closeStdinWhenStarted) this.closeStdin();
    await ended;
    for (const e of log.flush()) for (const l of [...this.entryListeners]) l(e);
    log.close();
    this.running = false;
    this.stdin?.destroy();
    this.stdin = undefined;
    this.closeStdinWhenStarted = false;
    for (const l of [...this.runEndListeners]) l();
  }

  onChunk(l: (c: Chunk) => void): () => void {
    this.chunkListeners.add(l);
    return () => this.chunkListeners.delete(l);
  }

  onEntry(l: (e: LogEntry) => void): () => void {
    this.entryListeners.add(l);
    return () => this.entryListeners.delete(l);
  }

  onRunEnd(l: () => void): () => void {
    this.runEndListeners.add(l);
    return () => this.runEndListeners.delete(l);
  }

  onRunStart(l: () => void): () => void {
    this.runStartListeners.add(l);
    return () => this.runStartListeners.delete(l);
  }

  /** Input that arrived before the run's stdin existed (an attach precedes the start). */
  private pendingStdin: Buffer[] = [];
  private pendingBytes = 0;

  writeStdin(data: Buffer): void {
    if (this.stdin) {
      this.stdin.write(data);
      return;
    }
    if (this.running) return; // a container without stdin (no -i): input goes nowhere
    // Bounded like a pipe buffer would be: a client cannot grow berthd without limit.
    if (this.pendingBytes + data.length > MAX_PENDING_STDIN) return;
    this.pendingStdin.push(data);
    this.pendingBytes += data.length;
  }

  /**
   * EOF on the container's stdin (a `docker run -i` client closed its input). Before the run
   * started the FIFO must stay open, or the input written so far would be dropped with it.
   */
  closeStdin(): void {
    if (!this.running || !this.stdin) {
      this.closeStdinWhenStarted = true;
      return;
    }
    // Not end(): a FIFO cannot be shut down like a socket, and the failed shutdown would
    // drop writes still queued. Closing our (only) write end after them is the EOF.
    const stdin = this.stdin;
    stdin.write(Buffer.alloc(0), () => stdin.destroy());
  }
}

const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/** moby's term.ToBytes: "ctrl-p,ctrl-q", "a,ctrl-@"; 400 for anything else. */
export function parseDetachKeys(keys: string | null | undefined): number[] {
  if (!keys) return DEFAULT_DETACH_KEYS;
  const out: number[] = [];
  for (const k of keys.split(',')) {
    const key = k.trim();
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
    if (!m) throw new InvalidParameterError(`Invalid detach keys (${keys}) provided`);
    const c = (m[1] ?? 'a').charCodeAt(0);
    out.push(c >= 0x61 && c <= 0x7a ? c - 0x60 : c - 0x40);
  }
  return out;
}

/** Passes input through, holding back a partial detach sequence; calls onDetach on a full one. */
export function detachFilter(keys: number[], onDetach: () => void): (data: Buffer) => Buffer {
  let matched = 0;
  return (data) => {
    const out: number[] = [];
    for (const b of data) {
      if (b === keys[matched]) {
        matched++;
        if (matched === keys.length) {
          matched = 0;
          onDetach();
          return Buffer.from(out);
        }
        continue;
      }
      out.push(...keys.slice(0, matched));
      matched = b === keys[0] ? 1 : 0;
      if (matched === 0) out.push(b);
    }
    return Buffer.from(out);
  };
}

export interface AttachRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Replay the stored log first. */
  logs: boolean;
  stream: boolean;
  tty: boolean;
  detachKeys: number[];
  /** The stored log, for `logs`. */
  history: () => LogEntry[];
  /** Close the container's stdin when this client's input ends (Config.StdinOnce). */
  stdinOnce: boolean;
  /** The client detached with the detach keys. */
  onDetach?: () => void;
}

/**
 * Serves one attached client on a hijacked connection until the run's output ends, the
 * client goes away or it detaches. Resolves when the connection is done.
 */
export function serveAttach(io: ContainerIo, conn: Duplex, req: AttachRequest): Promise<void> {
  const wanted = (s: OutputStream) => (s === 'stdout' ? req.stdout : req.stderr);
  const send = (stream: OutputStream, data: Buffer) => {
    if (!wanted(stream) || conn.destroyed) return;
    conn.write(req.tty ? data : encodeFrame(stream, data));
  };
  if (req.logs) for (const e of req.history()) send(e.stream, Buffer.from(e.log));
  if (!req.stream) {
    conn.end();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const cleanups: Array<() => void> = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      for (const c of cleanups) c();
      conn.end();
      resolve();
    };
    cleanups.push(io.onChunk((c) => send(c.stream, c.data)));
    cleanups.push(io.onRunEnd(finish));
    conn.on('close', finish);
    conn.on('error', finish);
    if (req.stdin) {
      const filter = detachFilter(req.detachKeys, () => {
        req.onDetach?.();
        finish();
      });
      conn.on('data', (data: Buffer) => {
        const pass = filter(data);
        if (pass.length > 0) io.writeStdin(pass);
      });
      conn.on('end', () => {
        if (req.stdinOnce) io.closeStdin();
      });
    } else {
      conn.on('data', () => undefined);
    }
  });
}
