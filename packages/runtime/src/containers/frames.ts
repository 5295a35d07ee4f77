/**
 * The multiplexed stream format of attach, logs and exec without a TTY: each frame is an
 * 8-byte header (byte 0 = stream: 0 stdin, 1 stdout, 2 stderr; bytes 4..7 = big-endian
 * payload length) and the payload. The same format as engine-client's streams.ts, which is
 * the reading side; the engine only writes.
 */
const STREAMS = { stdin: 0, stdout: 1, stderr: 2 } as const;

/** Content types of a hijacked or streamed body, by whether frames are used. */
export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export function encodeFrame(stream: keyof typeof STREAMS, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAMS[stream];
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
