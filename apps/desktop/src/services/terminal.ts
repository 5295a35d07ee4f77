/**
 * Terminals into containers: an exec with a TTY whose hijacked connection carries keystrokes
 * in and screen bytes out. Output is decoded as UTF-8 across chunk boundaries, so a character
 * split between two reads reaches the terminal whole.
 */
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { EngineClient } from '@berth/engine-client';
import type { ParsedParams } from '../shared/contract.js';
import { execCreatedSchema } from './engine-schemas.js';

/** bash where the image has it (line editing, history), else POSIX sh. */
export const DEFAULT_SHELL = [
  '/bin/sh',
  '-c',
  'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi',
];

export interface TerminalSink {
  data(termId: string, data: string): void;
  exit(termId: string, error?: string): void;
}

interface Open {
  execId: string;
  socket: Socket;
  /**
   * Input and resizes in the order the UI sent them: keys typed after a resize must reach a
   * TTY that already has the new size (`stty size`, full-screen programs redrawing).
   */
  queue: Promise<void>;
}

export class Terminals {
  private readonly open = new Map<string, Open>();

  constructor(
    private readonly client: EngineClient,
    private readonly sink: TerminalSink,
  ) {}

  async start(p: ParsedParams<'terminal.open'>): Promise<{ execId: string }> {
    if (this.open.has(p.termId)) throw new Error(`terminal ${p.termId} is already open`);
    const size = [p.rows, p.cols];
    const created = await this.client.request({
      method: 'POST',
      path: `/containers/${encodeURIComponent(p.id)}/exec`,
      body: {
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
        Env: ['TERM=xterm-256color', 'COLORTERM=truecolor'],
        Cmd: p.command?.length ? p.command : DEFAULT_SHELL,
        ConsoleSize: size,
      },
      schema: execCreatedSchema,
    });
    const socket = await this.client.hijack({
      method: 'POST',
      path: `/exec/${encodeURIComponent(created.Id)}/start`,
      body: { Detach: false, Tty: true, ConsoleSize: size },
    });
    this.open.set(p.termId, { execId: created.Id, socket, queue: Promise.resolve() });
    const decoder = new StringDecoder('utf8');
    socket.on('data', (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text) this.sink.data(p.termId, text);
    });
    let failure: string | undefined;
    socket.on('error', (e) => (failure = e.message));
    socket.once('close', () => {
      const rest = decoder.end();
      if (rest) this.sink.data(p.termId, rest);
      this.open.delete(p.termId);
      this.sink.exit(p.termId, failure);
    });
    return { execId: created.Id };
  }

  input(termId: string, data: string): void {
    const t = this.get(termId);
    t.queue = t.queue.then(() => {
      if (!t.socket.destroyed) t.socket.write(data);
    });
  }

  resize(termId: string, cols: number, rows: number): Promise<void> {
    const t = this.get(termId);
    const done = t.queue.then(() =>
      this.client.request({
        method: 'POST',
        path: `/exec/${encodeURIComponent(t.execId)}/resize`,
        query: { h: rows, w: cols },
      }),
    );
    // A failed resize does not hold up the keys after it; the caller sees the error.
    t.queue = done.then(
      () => undefined,
      () => undefined,
    );
    return done.then(() => undefined);
  }

  /** Half-closes stdin (the shell sees EOF and exits); the socket goes if it lingers. */
  close(termId: string): void {
    const t = this.open.get(termId);
    if (!t) return;
    t.socket.end();
    setTimeout(() => t.socket.destroy(), 2000).unref();
  }

  closeAll(): void {
    for (const t of this.open.values()) t.socket.destroy();
    this.open.clear();
  }

  private get(termId: string): Open {
    const t = this.open.get(termId);
    if (!t) throw new Error('This terminal is closed.');
    return t;
  }
}
