/**
 * Turns a layer blob into its uncompressed tar stream. The compression is told by the blob's
 * magic bytes, not by its media type: registries and tools mislabel layers often enough that
 * containerd and moby both sniff too. The media type only lets us refuse early what we cannot
 * read (encrypted layers, unknown suffixes) with a clearer message.
 */
import { Decompress } from 'fzstd';
import { PassThrough, Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SystemError } from '../api/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP = Buffer.from([0x1f, 0x8b]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const KNOWN_UNSUPPORTED: [string, Buffer][] = [
  ['bzip2', Buffer.from('BZh')],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['lz4', Buffer.from([0x04, 0x22, 0x4d, 0x18])],
];
const TAR_BLOCK = 512;
/**
 * Chunk sizes in and out of the decoder. Network chunks are 64 KiB and zlib's default output
 * 16 KiB; every zlib call is a thread-pool round trip, so bigger chunks cost much less CPU.
 */
const INPUT_BATCH_BYTES = 1 << 20;
const DECODE_CHUNK_BYTES = 1 << 20;

/** Media-type suffixes we know; anything else after `.tar` is refused before reading. */
const MEDIA_SUFFIX = /(?:\.tar|\.diff)(?:[+.](gzip|zstd))?$/;

/** True when `head` starts with a tar header whose checksum adds up, or the end-of-archive block. */
function looksLikeTar(head: Buffer): boolean {
  if (head.length < TAR_BLOCK) return head.length === 0; // an empty blob is an empty layer
  const block = head.subarray(0, TAR_BLOCK);
  if (block.every((b) => b === 0)) return true;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  const field = block
    .subarray(148, 156)
    .toString('latin1')
    .replace(/[\0 ]+/g, ' ')
    .trim();
  return /^[0-7]+$/.test(field) && parseInt(field, 8) === sum;
}

export function detectCompression(head: Buffer): Compression | undefined {
  if (head.subarray(0, GZIP.length).equals(GZIP)) return 'gzip';
  if (head.subarray(0, ZSTD.length).equals(ZSTD)) return 'zstd';
  if (looksLikeTar(head)) return 'none';
  return undefined;
}

/**
 * Reads at least `n` bytes (fewer at the end) from the start of `input`, and returns them with
 * a stream that yields the whole input from its first byte. (Readable.unshift cannot do this
 * for an input shorter than `n`: it has ended by then.)
 */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < n) {
    const r = await it.next();
    if (r.done === true) {
      ended = true;
      break;
    }
    const buf = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(buf);
    length += buf.length;
  }
  const head = Buffer.concat(chunks);
  // The rest goes on in batches of about INPUT_BATCH_BYTES: one decoder round trip each.
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (ended) return;
    try {
      const batch: Buffer[] = [];
      let batched = 0;
      for (;;) {
        const r = await it.next();
        if (r.done !== true) {
          const buf = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
          batch.push(buf);
          batched += buf.length;
          if (batched < INPUT_BATCH_BYTES) continue;
        }
        if (batched > 0) yield batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch);
        if (r.done === true) return;
        batch.length = 0;
        batched = 0;
      }
    } finally {
      await it.return?.();
    }
  }
  return { head, stream: Readable.from(replay(), { objectMode: false }) };
}

/** fzstd's streaming decoder as a Node Transform. */
function zstdStream(): Transform {
  let transform: Transform | undefined = undefined;
  const decoder = new Decompress((data) => {
    if (data.length > 0) transform?.push(Buffer.from(data));
  });
  transform = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        decoder.push(chunk, false);
        cb();
      } catch (err) {
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    },
    flush(cb) {
      try {
        decoder.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    },
  });
  return transform;
}

function asError(err: unknown, what: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new SystemError(`invalid ${what} layer data: ${message}`);
}

/**
 * The uncompressed tar stream of a layer blob (gzip, zstd or plain tar). Rejects with a
 * SystemError when the blob is in a format we cannot read. Errors of `input` propagate to the
 * returned stream; destroying the returned stream destroys `input`.
 */
export async function decompressLayer(input: Readable, mediaType?: string): Promise<Readable> {
  if (mediaType !== undefined && /encrypted/.test(mediaType)) {
    throw new SystemError(
      `unsupported layer media type ${mediaType}: encrypted layers are not supported`,
    );
  }
  if (
    mediaType !== undefined &&
    /[+.](?:tar|diff)/.test(mediaType) &&
    !MEDIA_SUFFIX.test(mediaType)
  ) {
    throw new SystemError(`unsupported layer media type ${mediaType}`);
  }
  const { head, stream } = await peek(input, TAR_BLOCK);
  const compression = detectCompression(head);
  if (compression === undefined) {
    const named = KNOWN_UNSUPPORTED.find(([, magic]) =>
      head.subarray(0, magic.length).equals(magic),
    );
    input.destroy();
    throw new SystemError(
      named
        ? `unsupported layer compression: ${named[0]}`
        : `unsupported layer format: neither gzip, zstd nor tar (starts with ${head.subarray(0, 8).toString('hex')})`,
    );
  }
  if (compression === 'none') return stream;
  return pipeInto(
    stream,
    compression === 'gzip' ? createGunzip({ chunkSize: DECODE_CHUNK_BYTES }) : zstdStream(),
    compression,
  );
}

/**
 * input → decoder → returned stream, returned at once. A decoder error reaches the returned
 * stream as a SystemError naming the format; an input error as is; destroying the returned
 * stream early destroys the others.
 */
function pipeInto(input: Readable, decoder: Transform, format: Compression): Readable {
  const out = new PassThrough({ highWaterMark: DECODE_CHUNK_BYTES });
  // The caller may start reading only later (a small corrupt blob fails before that): the error
  // stays in `out.errored` for that reader, and must not go unhandled meanwhile.
  out.on('error', () => undefined);
  input.on('error', (err) => out.destroy(err));
  decoder.on('error', (err) => out.destroy(asError(err, format)));
  out.on('close', () => {
    if (!out.readableEnded) {
      input.destroy();
      decoder.destroy();
    }
  });
  input.pipe(decoder).pipe(out);
  return out;
}
