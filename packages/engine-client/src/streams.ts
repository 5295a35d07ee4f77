/**
 * The two stream formats of the Engine API: newline-delimited JSON messages (pull, push, load,
 * build, events) and the 8-byte-header multiplexed frames of logs/attach/exec without a TTY
 * (byte 0 = stream: 0 stdin, 1 stdout, 2 stderr; bytes 4..7 = big-endian payload length).
 */
import type { Readable } from 'node:stream';

export async function* jsonMessages(body: Readable): AsyncGenerator<unknown> {
  let pending = '';
  for await (const chunk of body as AsyncIterable<Buffer>) {
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield JSON.parse(line) as unknown;
    }
  }
  if (pending.trim()) yield JSON.parse(pending) as unknown;
}

export interface Frame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

/** Content types of a hijacked or streamed body, by whether it is framed. */
export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export async function* demultiplex(body: Readable): AsyncGenerator<Frame> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of body as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = STREAMS[buf[0] ?? 1] ?? 'stdout';
      yield { stream, data: buf.subarray(8, 8 + size) };
      buf = buf.subarray(8 + size);
    }
  }
}

/** Encodes one frame; berthd writes logs, attach and exec without a TTY with this. */
export function encodeFrame(stream: Frame['stream'], data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAMS.indexOf(stream);
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
