import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tailFile } from './engine-log.js';

describe('tailFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tail-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the last lines, without a partial first one from a large file', async () => {
    const small = join(dir, 'small.log');
    writeFileSync(small, 'a\nb\nc\n');
    assert.deepEqual(await tailFile(small, 2), ['b', 'c']);
    assert.deepEqual(await tailFile(small, 10), ['a', 'b', 'c']);
    const big = join(dir, 'big.log');
    const lines = Array.from({ length: 40_000 }, (_, i) => `{"msg":"line ${i}"}`);
    writeFileSync(big, `${lines.join('\n')}\n`);
    const tail = await tailFile(big, 5000);
    assert.equal(tail.at(-1), '{"msg":"line 39999"}');
    assert.ok(tail.every((l) => l.startsWith('{"msg":"line ')));
  });
});
