/**
 * sha256 of a stream, computed off the event loop when there are cores to spare. A pull hashes
 * every layer twice (the blob's digest and the tar's diff ID): on the main thread that is a
 * good part of a pull's CPU, and it holds up every other stream of the pull. Here the bytes are
 * gathered into 1 MiB batches and moved to a small pool of worker threads; the digest comes
 * back when asked for.
 *
 * The pool has (cores - 2) workers: the event loop and libuv's thread pool (zlib, file writes)
 * keep two cores busy during a pull. On a 2-core machine the copy into the worker, the worker's
 * start and the hand-offs cost more CPU than the hashing they move (pull bench: 1.87× → 2.23×
 * of skopeo's time), so there everything is hashed in-thread. (Hashing on libuv's thread pool
 * through an async koffi call to libcrypto's EVP_DigestUpdate lost too: 1.66× → 2.13×.)
 *
 * Streams shorter than one batch (configs, manifests, small layers) never leave the thread.
 * If a worker cannot be started or dies, pending digests reject and later hashes run in-thread.
 *
 * The worker's code is an inline script, so that berthd still works as one bundled file.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SystemError } from '../api/errors.js';
import type { Digest } from '../images/oci.js';

/** Bytes gathered before a batch goes to a worker. */
const BATCH_BYTES = 1 << 20;
/** Batches of one hash a worker may be behind before update() waits. */
const MAX_BATCHES_IN_FLIGHT = 4;

export interface StreamHash {
  /** Adds bytes; resolves when more may be added (the worker is not too far behind). */
  update(chunk: Buffer): Promise<void>;
  /** The sha256 of everything added. Call once. */
  digest(): Promise<Digest>;
  /** Drops an unfinished hash (the stream failed); a no-op after digest(). */
  cancel(): void;
}

export function createStreamHash(): StreamHash {
  return new BatchedHash();
}

type ToWorker =
  { id: number; op: 'update'; data: Uint8Array } | { id: number; op: 'digest' | 'cancel' };
type FromWorker = { id: number; op: 'ack' } | { id: number; op: 'digest'; hex: string };

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (m.op === 'update') {
    if (h === undefined) hashes.set(m.id, (h = createHash('sha256')));
    h.update(m.data);
    parentPort.postMessage({ id: m.id, op: 'ack' });
  } else if (m.op === 'digest') {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, op: 'digest', hex: (h ?? createHash('sha256')).digest('hex') });
  } else {
    hashes.delete(m.id);
  }
});
`;

interface Waiter {
  onAck(): void;
  onDigest(hex: string): void;
  onFailure(err: Error): void;
}

/** One worker thread and the hashes it serves; keeps the process alive only while busy. */
class HashWorker {
  private readonly worker: Worker;
  private readonly waiters = new Map<number, Waiter>();
  /** Batches sent and not yet acknowledged, over all hashes: the pool's measure of load. */
  backlog = 0;
  private digests = 0;
  dead = false;

  constructor(private readonly onExit: (w: HashWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => {
      const w = this.waiters.get(m.id);
      if (m.op === 'ack') {
        this.backlog--;
        w?.onAck();
      } else {
        this.digests--;
        this.waiters.delete(m.id);
        w?.onDigest(m.hex);
      }
      this.refWhileBusy();
    });
    const fail = (err: Error): void => {
      if (this.dead) return;
      this.dead = true;
      this.worker.unref();
      this.onExit(this);
      const failure = new SystemError(`sha256 worker failed: ${err.message}`);
      for (const w of this.waiters.values()) w.onFailure(failure);
      this.waiters.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  }

  register(id: number, waiter: Waiter): void {
    this.waiters.set(id, waiter);
  }

  send(msg: ToWorker): void {
    if (msg.op === 'update') {
      this.backlog++;
      this.worker.postMessage(msg, [msg.data.buffer as ArrayBuffer]);
    } else {
      if (msg.op === 'cancel') this.waiters.delete(msg.id);
      else this.digests++;
      this.worker.postMessage(msg);
    }
    this.refWhileBusy();
  }

  /** Referenced only while an answer is awaited: an idle pool never keeps the process alive. */
  private refWhileBusy(): void {
    if (this.dead) return;
    if (this.backlog + this.digests > 0) this.worker.ref();
    else this.worker.unref();
  }
}

class HashPool {
  private readonly workers: HashWorker[] = [];
  private disabled = false;
  private nextId = 1;
  size = Math.max(0, Math.min(4, availableParallelism() - 2));

  /** The least busy worker (starting one if the pool is not full); undefined to hash in-thread. */
  pick(): { worker: HashWorker; id: number } | undefined {
    if (this.disabled || this.size === 0) return undefined;
    let best = this.workers.reduce<HashWorker | undefined>(
      (a, w) => (a === undefined || w.backlog < a.backlog ? w : a),
      undefined,
    );
    if (best === undefined || (best.backlog > 0 && this.workers.length < this.size)) {
      try {
        // A worker that fails once (no threads, out of memory) is not tried again.
        best = new HashWorker((w) => {
          this.workers.splice(this.workers.indexOf(w), 1);
          this.disabled = true;
        });
        this.workers.push(best);
      } catch {
        this.disabled = true;
        return undefined;
      }
    }
    return { worker: best, id: this.nextId++ };
  }
}

const pool = new HashPool();

/** Sets the number of hash workers, returning the previous number (tests exercise the pool). */
export function setHashWorkers(count: number): number {
  const previous = pool.size;
  pool.size = count;
  return previous;
}

/** Hashes in-thread until a full batch exists, then on a worker. */
class BatchedHash implements StreamHash {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private remote: { worker: HashWorker; id: number } | undefined;
  private local: ReturnType<typeof createHash> | undefined;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private result: { resolve(d: Digest): void; reject(e: Error): void } | undefined;
  private failure: Error | undefined;
  private finished = false;

  async update(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    if (this.local) {
      this.local.update(chunk);
      return;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < BATCH_BYTES) return;
    if (!this.remote) {
      this.remote = pool.pick();
      if (!this.remote) {
        this.local = createHash('sha256');
        for (const c of this.takePending()) this.local.update(c);
        return;
      }
      this.remote.worker.register(this.remote.id, {
        onAck: () => {
          this.inFlight--;
          this.wake?.();
        },
        onDigest: (hex) => this.result?.resolve(`sha256:${hex}`),
        onFailure: (err) => {
          this.failure = err;
          this.wake?.();
          this.result?.reject(err);
        },
      });
    }
    this.sendPending();
    while (this.inFlight > MAX_BATCHES_IN_FLIGHT && !this.failure) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    this.throwIfFailed();
  }

  /** A method, so that TypeScript does not narrow `failure` away after the wait above. */
  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  digest(): Promise<Digest> {
    this.finished = true;
    if (this.failure) return Promise.reject(this.failure);
    if (!this.remote) {
      const h = this.local ?? createHash('sha256');
      for (const c of this.takePending()) h.update(c);
      return Promise.resolve(`sha256:${h.digest('hex')}`);
    }
    const remote = this.remote;
    return new Promise<Digest>((resolve, reject) => {
      this.result = { resolve, reject };
      this.sendPending();
      remote.worker.send({ id: remote.id, op: 'digest' });
    });
  }

  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.pending = [];
    if (this.remote && !this.remote.worker.dead) {
      this.remote.worker.send({ id: this.remote.id, op: 'cancel' });
    }
  }

  private takePending(): Buffer[] {
    const taken = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return taken;
  }

  /** One copy into a buffer of its own, which is then moved to the worker. */
  private sendPending(): void {
    if (this.pendingBytes === 0 || !this.remote) return;
    const data = new Uint8Array(this.pendingBytes);
    let off = 0;
    for (const c of this.takePending()) {
      data.set(c, off);
      off += c.length;
    }
    this.inFlight++;
    this.remote.worker.send({ id: this.remote.id, op: 'update', data });
  }
}
