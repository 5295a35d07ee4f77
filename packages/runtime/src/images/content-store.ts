/**
 * The content-addressed blob store (containerd's "content store"): manifests, indexes, configs
 * and compressed layers, each stored once under its digest.
 *
 * Contract: a blob is visible only after its bytes were verified against the expected digest
 * and size, fsynced and renamed into place; a crash at any point leaves at most a temporary
 * ingest file that `repair()` removes on the next start. Concurrent `ingest` calls for the same
 * digest share one download.
 */
import type { Readable } from 'node:stream';
import type { Digest } from './oci.js';

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
