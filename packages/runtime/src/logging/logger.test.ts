import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { createLogger } from './logger.js';

describe('createLogger (JSON lines)', () => {
  it('appends one JSON object per line, filters by level, and adds child fields', () => {
    const tmp = tempDir('logger');
    try {
      const file = join(tmp.path, 'sub', 'berthd.log');
      const log = createLogger({ file, level: 'info' });
      log.debug('hidden');
      log.info('hello', { n: 1 });
      log.child({ component: 'api' }).warn('careful', { err: new Error('disk full') });
      log.close();
      // A second logger appends rather than truncates.
      const again = createLogger({ file });
      again.error('later');
      again.close();
      const entries = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        entries.map((e) => [e.level, e.msg]),
        [
          ['info', 'hello'],
          ['warn', 'careful'],
          ['error', 'later'],
        ],
      );
      assert.equal(entries[0]?.n, 1);
      assert.equal(entries[1]?.component, 'api');
      assert.deepEqual(entries[1]?.err, { name: 'Error', message: 'disk full' });
      assert.ok(entries.every((e) => !Number.isNaN(Date.parse(String(e.time)))));
    } finally {
      tmp.remove();
    }
  });

  it('rotates a full file to .1, keeping one', () => {
    const tmp = tempDir('logger');
    try {
      const file = join(tmp.path, 'r.log');
      const log = createLogger({ file, maxBytes: 300 });
      for (let i = 0; i < 12; i++) log.info('line', { i });
      log.close();
      const current = readFileSync(file, 'utf8').trim().split('\n');
      const previous = readFileSync(`${file}.1`, 'utf8').trim().split('\n');
      assert.ok(statSync(file).size <= 300 && statSync(`${file}.1`).size <= 300);
      const last = JSON.parse(current.at(-1) ?? '{}') as { i?: number };
      assert.equal(last.i, 11);
      // Nothing between the two files is lost.
      const first = JSON.parse(current[0] ?? '{}') as { i?: number };
      const end = JSON.parse(previous.at(-1) ?? '{}') as { i?: number };
      assert.equal((end.i ?? 0) + 1, first.i);
    } finally {
      tmp.remove();
    }
  });

  it('survives fields it cannot serialise', () => {
    const tmp = tempDir('logger');
    try {
      const file = join(tmp.path, 'x.log');
      const log = createLogger({ file });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      log.info('cyclic', { cyclic });
      log.close();
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { msg: string }).msg, 'cyclic');
    } finally {
      tmp.remove();
    }
  });
});
