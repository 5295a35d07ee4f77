/**
 * The content-addressed blob store (containerd's "content store"): manifests, indexes, configs
 * and compressed layers, each stored once under its digest.
 *
 * Contract: a blob is visible only after its bytes were verified against the expected digest
 * and size, fsynced and renamed into place; a crash at any point leaves at most a temporary
 * ingest file that `repair()` removes on the next start. Concurrent `ingest` calls for the same
 * digest share one download.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat as fsStat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { BatchedWriter } from '../storage/batched-writer.js';
import { createStreamHash } from '../storage/sha256.js';
import { InvalidParameterError, NotFoundError, SystemError } from '../api/errors.js';
import { type Digest, isDigest, sha256Digest } from './oci.js';

export interface BlobInfo {
  digest: Digest;
  /** Size in bytes. */
  size: number;
}

/** Called while bytes arrive: bytes written so far and the expected total. */
export type IngestProgress = (written: number, total: number) => void;

export interface ContentStore {
  /** Removes leftovers of interrupted ingests. Called once at daemon start. */
  repair(): Promise<void>;
  /** Info of a committed blob, or undefined when absent. */
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** The whole blob; throws NotFoundError when absent. For small documents (manifests, configs). */
  read(digest: Digest): Promise<Buffer>;
  /** A stream of a committed blob; throws NotFoundError when absent. */
  createReadStream(digest: Digest): Promise<Readable>;
  /**
   * Writes the stream from `open()` as blob `expected`, verifying digest and size. `open` is
   * called only when the blob is not already stored and no other ingest of it is running.
   * Rejects (and keeps nothing) on mismatch.
   */
  ingest(
    expected: BlobInfo,
    open: () => Promise<Readable>,
    onProgress?: IngestProgress,
  ): Promise<BlobInfo>;
  /** Stores bytes we produced ourselves (a config, a manifest); returns their digest. */
  put(data: Buffer): Promise<BlobInfo>;
  delete(digest: Digest): Promise<void>;
  list(): Promise<BlobInfo[]>;
}

/**
 * ContentStore on a directory: committed blobs at `blobs/sha256/<hex>`, ingests in progress
 * at `ingest/<random>` (same filesystem, so the commit is one rename).
 */
export class FsContentStore implements ContentStore {
  private readonly inflight = new Map<Digest, Ingest>();

  constructor(readonly root: string) {}

  private blobPath(digest: Digest): string {
    // Guard every path built from a digest: a malformed one must never reach the filesystem.
    if (!isDigest(digest)) throw new InvalidParameterError(`invalid digest: ${String(digest)}`);
    return join(this.root, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  async repair(): Promise<void> {
    await rm(join(this.root, 'ingest'), { recursive: true, force: true });
    await mkdir(join(this.root, 'ingest'), { recursive: true });
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    if (!isDigest(digest)) return undefined;
    const st = await fsStat(this.blobPath(digest)).catch(ignoreNotFound);
    return st?.isFile() ? { digest, size: st.size } : undefined;
  }

  async read(digest: Digest): Promise<Buffer> {
    const data = await readFile(this.blobPath(digest)).catch(ignoreNotFound);
    if (!data) throw blobNotFound(digest);
    return data;
  }

  async createReadStream(digest: Digest): Promise<Readable> {
    const fh = await open(this.blobPath(digest), 'r').catch(ignoreNotFound);
    if (!fh) throw blobNotFound(digest);
    return fh.createReadStream();
  }

  ingest(
    expected: BlobInfo,
    openSource: () => Promise<Readable>,
    onProgress?: IngestProgress,
  ): Promise<BlobInfo> {
    if (!isDigest(expected.digest)) {
      return Promise.reject(
        new InvalidParameterError(`invalid digest: ${String(expected.digest)}`),
      );
    }
    // Registered synchronously, so a second caller in the same tick joins the first.
    let running = this.inflight.get(expected.digest);
    if (!running) {
      const listeners = new Set<IngestProgress>();
      const promise = this.ingestOnce(expected, openSource, (w, t) => {
        for (const l of listeners) l(w, t);
      }).finally(() => this.inflight.delete(expected.digest));
      running = { promise, listeners, expectedSize: expected.size };
      this.inflight.set(expected.digest, running);
    } else if (running.expectedSize !== expected.size) {
      return Promise.reject(sizeMismatch(expected.digest, expected.size, running.expectedSize));
    }
    if (onProgress) running.listeners.add(onProgress);
    const listeners = running.listeners;
    return running.promise.finally(() => {
      if (onProgress) listeners.delete(onProgress);
    });
  }

  private async ingestOnce(
    expected: BlobInfo,
    openSource: () => Promise<Readable>,
    onProgress: IngestProgress,
  ): Promise<BlobInfo> {
    const target = this.blobPath(expected.digest);
    const existing = await this.stat(expected.digest);
    if (existing) {
      if (existing.size !== expected.size) {
        throw sizeMismatch(expected.digest, expected.size, existing.size);
      }
      return existing;
    }
    const ingestDir = join(this.root, 'ingest');
    await mkdir(ingestDir, { recursive: true });
    await mkdir(dirname(target), { recursive: true });
    const tmp = join(ingestDir, randomBytes(12).toString('hex'));
    const fh = await open(tmp, 'wx', 0o644);
    let closed = false;
    const hash = createStreamHash();
    try {
      let written = 0;
      const out = new BatchedWriter(fh);
      const source = await openSource();
      try {
        for await (const chunk of source as AsyncIterable<Buffer | string>) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          written += buf.length;
          // Stop reading as soon as the source sends more than it should.
          if (written > expected.size) throw sizeMismatch(expected.digest, expected.size, written);
          await Promise.all([hash.update(buf), out.write(buf)]);
          onProgress(written, expected.size);
        }
        await out.flush();
      } finally {
        source.destroy();
      }
      if (written !== expected.size) throw sizeMismatch(expected.digest, expected.size, written);
      // Flushed to disk while the digest is finished; the file is still a temporary one.
      const [actual] = await Promise.all([hash.digest(), fh.sync()]);
      if (actual !== expected.digest) {
        throw new SystemError(
          `unexpected commit digest ${actual}, expected ${expected.digest}: failed precondition`,
        );
      }
      await fh.close();
      closed = true;
      await rename(tmp, target);
      await syncDir(dirname(target));
      return { digest: expected.digest, size: written };
    } catch (err) {
      hash.cancel();
      if (!closed) await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async put(data: Buffer): Promise<BlobInfo> {
    const info = { digest: sha256Digest(data), size: data.length };
    return this.ingest(info, () => Promise.resolve(Readable.from([data])));
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async list(): Promise<BlobInfo[]> {
    const dir = join(this.root, 'blobs', 'sha256');
    const names = (await readdir(dir).catch(ignoreNotFound)) ?? [];
    const out: BlobInfo[] = [];
    for (const name of names) {
      const info = await this.stat(`sha256:${name}`);
      if (info) out.push(info);
    }
    return out;
  }
}

interface Ingest {
  promise: Promise<BlobInfo>;
  listeners: Set<IngestProgress>;
  expectedSize: number;
}

function ignoreNotFound(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw err;
}

function blobNotFound(digest: Digest): NotFoundError {
  return new NotFoundError(`content digest ${digest}: not found`);
}

function sizeMismatch(digest: Digest, expected: number, actual: number): SystemError {
  return new SystemError(
    `unexpected commit size ${actual}, expected ${expected} for ${digest}: failed precondition`,
  );
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
