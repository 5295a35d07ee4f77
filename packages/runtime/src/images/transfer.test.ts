import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shortId, TransferLimiter } from './transfer.js';

describe('TransferLimiter', () => {
  it('runs at most `limit` tasks at once, reporting the ones that wait', async () => {
    const limiter = new TransferLimiter(2);
    let active = 0;
    let peak = 0;
    const waited: number[] = [];
    const task = async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
    };
    await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.run(task, () => waited.push(i))));
    assert.equal(peak, 2);
    assert.deepEqual(waited, [2, 3, 4]);
  });

  it('frees the slot of a failed task', async () => {
    const limiter = new TransferLimiter(1);
    await assert.rejects(
      limiter.run(() => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await limiter.run(() => Promise.resolve(7)), 7);
  });

  it('shortens digests as Docker shows layer IDs', () => {
    assert.equal(shortId(`sha256:${'0123456789ab'.repeat(5)}abcd`), '0123456789ab');
  });
});
