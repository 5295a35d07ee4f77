import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { discardDir, sweepDiscarded } from './discard.js';

describe('discardDir', () => {
  it('makes the tree disappear at once and deletes it in the background', async () => {
    const tmp = tempDir('discard');
    try {
      const dir = join(tmp.path, 'c1');
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'a', 'b', 'f'), 'x');
      const done = discardDir(dir);
      assert.equal(existsSync(dir), false);
      await done;
      assert.deepEqual(readdirSync(tmp.path), []);
      await discardDir(dir); // already gone: fine
    } finally {
      tmp.remove();
    }
  });

  it('sweeps what a crash left aside, and nothing else', async () => {
    const tmp = tempDir('discard');
    try {
      mkdirSync(join(tmp.path, '.discarded-c2-0a0b0c0d', 'x'), { recursive: true });
      mkdirSync(join(tmp.path, 'keep'));
      sweepDiscarded(tmp.path);
      for (let i = 0; i < 100 && readdirSync(tmp.path).length > 1; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(readdirSync(tmp.path), ['keep']);
    } finally {
      tmp.remove();
    }
  });
});
