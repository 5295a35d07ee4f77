import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { BatchedWriter } from './batched-writer.js';

describe('BatchedWriter', () => {
  it('writes every chunk, in order, across batch boundaries', async () => {
    const dir = tempDir('batched-writer');
    try {
      const path = join(dir.path, 'f');
      const chunks = Array.from({ length: 200 }, (_, i) => randomBytes((i * 7919) % 40_000));
      const fh = await open(path, 'wx');
      try {
        const out = new BatchedWriter(fh, 100_000);
        for (const c of chunks) await out.write(c);
        await out.flush();
      } finally {
        await fh.close();
      }
      assert.deepEqual(await readFile(path), Buffer.concat(chunks));
    } finally {
      dir.remove();
    }
  });
});
