/**
 * Helpers shared by pull and push: bounded concurrency for blob transfers, and the short
 * layer IDs Docker shows in progress lines.
 */
import { PassThrough, pipeline, Transform, type Readable, type Writable } from 'node:stream';
import type { Digest } from './oci.js';

/** The 12 hex characters Docker shows for a layer: "sha256:3f57d9401f8d…" → "3f57d9401f8d". */
export function shortId(digest: Digest): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}

/**
 * Runs tasks with at most `limit` at once, in submission order. `onQueued` is called when a
 * task has to wait for a slot (pull and push report that as "Waiting").
 */
export class TransferLimiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  run<T>(task: () => Promise<T>, onQueued?: () => void): Promise<T> {
    let slot: Promise<void>;
    if (this.active < this.limit) {
      this.active++;
      slot = Promise.resolve();
    } else {
      onQueued?.();
      slot = new Promise<void>((resolve) => this.queue.push(resolve));
    }
    return slot.then(async () => {
      try {
        return await task();
      } finally {
        // Hand the slot straight to the next waiter, so a newcomer cannot slip in between.
        const next = this.queue.shift();
        if (next) next();
        else this.active--;
      }
    });
  }
}

/** Passes a stream through, reporting bytes passed so far against `total`. */
export function countBytes(
  source: Readable,
  total: number,
  report: (current: number, total: number) => void,
): Readable {
  let current = 0;
  // As deep as the source's buffer: a shallower one would pause the source at every chunk.
  const counter = new Transform({
    highWaterMark: source.readableHighWaterMark,
    transform(chunk: Buffer, _enc, done) {
      current += chunk.length;
      report(current, total);
      done(null, chunk);
    },
  });
  // pipeline, not pipe: a reader that destroys the counter early must close the source too.
  pipeline(source, counter, () => undefined);
  return counter;
}

/**
 * Copies `source` into `side` while returning a stream of the same bytes, with backpressure
 * from both readers. `side` is NOT ended when `source` ends: the caller ends it once it knows
 * the bytes were good (pull ends the unpacker's input only after the digest was verified), or
 * destroys it.
 */
export function teeWithHeldEnd(source: Readable, side: Writable): Readable {
  const main = new PassThrough({ highWaterMark: source.readableHighWaterMark });
  let waiting = 0;
  const resume = () => {
    if (--waiting === 0) source.resume();
  };
  source.on('data', (chunk: Buffer) => {
    if (!main.write(chunk)) {
      waiting++;
      main.once('drain', resume);
    }
    if (!side.destroyed && !side.write(chunk)) {
      waiting++;
      // A destroyed side never drains: its close releases the wait instead.
      const release = () => {
        side.off('drain', release);
        side.off('close', release);
        resume();
      };
      side.on('drain', release);
      side.on('close', release);
    }
    if (waiting > 0) source.pause();
  });
  source.once('end', () => main.end());
  source.once('error', (err) => main.destroy(err));
  main.once('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  return main;
}
