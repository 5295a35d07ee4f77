/**
 * ADD's local archives: a source file is unpacked when it is a tar, plain or compressed, as
 * moby's archive.DetectCompression + tar reader decide (the compression by magic bytes, never
 * by name; then the first block must be a tar header). gzip and zstd are decoded in-process;
 * xz and bzip2 through the `xz` and `bzip2` programs (Debian's xz-utils and bzip2, in the VM's
 * image too): Node has no decoder for either.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { Decompress } from 'fzstd';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { InvalidParameterError } from '../api/errors.js';
import { decompressLayer, detectCompression } from '../storage/decompress.js';

export type ArchiveKind = 'tar' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

const TAR_BLOCK = 512;

/** The program that decodes an archive's compression is not installed. */
class MissingDecoderError extends InvalidParameterError {}
const MAGIC: [Exclude<ArchiveKind, 'tar'>, Buffer][] = [
  ['gzip', Buffer.from([0x1f, 0x8b, 0x08])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['bzip2', Buffer.from('BZh')],
];
/** External decoders: program and arguments before the path. */
const PROGRAMS: Partial<Record<ArchiveKind, { program: string; args: string[]; pkg: string }>> = {
  xz: { program: 'xz', args: ['-dc', '--'], pkg: 'xz-utils' },
  bzip2: { program: 'bzip2', args: ['-dc', '--'], pkg: 'bzip2' },
};

/** Whether `head` (decompressed) starts with a real tar header (not an empty archive). */
function startsWithTarHeader(head: Buffer): boolean {
  return (
    head.length >= TAR_BLOCK &&
    !head.subarray(0, TAR_BLOCK).every((b) => b === 0) &&
    detectCompression(head.subarray(0, TAR_BLOCK)) === 'none'
  );
}

async function readHead(path: string, bytes: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The first decompressed bytes of a zstd file's head (as much as the head decodes to). */
function zstdHead(head: Buffer): Buffer {
  const out: Buffer[] = [];
  try {
    new Decompress((d) => out.push(Buffer.from(d))).push(head, false);
  } catch {
    // A truncated frame still yields what it decoded before the cut.
  }
  return Buffer.concat(out);
}

/** `program args… path` as a stream of its stdout; a failure ends the stream with its stderr. */
function decoderStream(kind: ArchiveKind, path: string, display: string): Readable {
  const spec = PROGRAMS[kind];
  if (!spec) throw new InvalidParameterError(`no decoder for ${kind}`);
  const out = new PassThrough();
  const child = spawn(spec.program, [...spec.args, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.on('error', (err: NodeJS.ErrnoException) =>
    out.destroy(
      err.code === 'ENOENT'
        ? new MissingDecoderError(
            `ADD ${display}: unpacking ${kind} archives needs the ${spec.program} program (Debian package ${spec.pkg})`,
          )
        : err,
    ),
  );
  // The stream ends only once the program said it succeeded: a truncated tar never passes.
  child.on('close', (code, signal) => {
    if (out.destroyed) return;
    if (code === 0) out.end();
    else
      out.destroy(
        new InvalidParameterError(
          `ADD ${display}: ${spec.program} failed (${code ?? signal}): ${stderr.trim()}`,
        ),
      );
  });
  child.stdout.on('error', (err) => out.destroy(err));
  child.stdout.pipe(out, { end: false });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });
  return out;
}

async function streamHead(stream: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= bytes) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** What archive ADD unpacks `path` as, or undefined for a file it copies as is. */
export async function archiveKind(path: string, display = path): Promise<ArchiveKind | undefined> {
  const head = await readHead(path, 64 * 1024);
  const kind = MAGIC.find(([, magic]) => head.subarray(0, magic.length).equals(magic))?.[0];
  switch (kind) {
    case undefined:
      return startsWithTarHeader(head) ? 'tar' : undefined;
    case 'gzip': {
      let data: Buffer;
      try {
        data = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      } catch {
        return undefined;
      }
      return startsWithTarHeader(data) ? kind : undefined;
    }
    case 'zstd':
      return startsWithTarHeader(zstdHead(head)) ? kind : undefined;
    default: {
      let data: Buffer;
      try {
        data = await streamHead(decoderStream(kind, path, display), TAR_BLOCK);
      } catch (err) {
        // Data the decoder rejects is not an archive (moby copies it as is); a missing
        // decoder is the daemon's problem and said so.
        if (err instanceof MissingDecoderError) throw err;
        return undefined;
      }
      return startsWithTarHeader(data) ? kind : undefined;
    }
  }
}

/** The uncompressed tar stream of an archive `archiveKind` recognised. */
export async function openArchive(
  path: string,
  kind: ArchiveKind,
  display = path,
): Promise<Readable> {
  if (PROGRAMS[kind]) return decoderStream(kind, path, display);
  return decompressLayer(createReadStream(path));
}
