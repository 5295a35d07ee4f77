import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createStreamHash, setHashWorkers } from './sha256.js';

function expected(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Feeds `data` in uneven chunks, as a network stream would. */
async function hashInChunks(data: Buffer, chunk: number): Promise<string> {
  const h = createStreamHash();
  for (let off = 0; off < data.length; off += chunk) {
    await h.update(data.subarray(off, Math.min(off + chunk, data.length)));
  }
  return h.digest();
}

describe('createStreamHash', () => {
  let previous = 0;
  before(() => (previous = setHashWorkers(2)));
  after(() => setHashWorkers(previous));

  it('hashes nothing, a few bytes and less than a batch like createHash', async () => {
    for (const data of [Buffer.alloc(0), Buffer.from('abc'), randomBytes(300_000)]) {
      assert.equal(await hashInChunks(data, 65_536), expected(data));
    }
  });

  it('hashes many batches on the worker pool, also with concurrent hashes', async () => {
    const inputs = [
      randomBytes(9 * 1024 * 1024 + 17),
      randomBytes(3 * 1024 * 1024),
      randomBytes(5_000_001),
    ];
    const digests = await Promise.all(inputs.map((d, i) => hashInChunks(d, 65_536 - i * 1000)));
    assert.deepEqual(digests, inputs.map(expected));
  });

  it('cancel() drops an unfinished hash; later hashes still work', async () => {
    const h = createStreamHash();
    await h.update(randomBytes(3 * 1024 * 1024));
    h.cancel();
    const data = randomBytes(2 * 1024 * 1024 + 5);
    assert.equal(await hashInChunks(data, 1 << 20), expected(data));
  });
});
