import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorMessage, humanSize, progressBar, progressLine } from './progress.js';

describe('progress messages', () => {
  it('formats sizes like go-units HumanSize', () => {
    assert.equal(humanSize(0), '0B');
    assert.equal(humanSize(999), '999B');
    assert.equal(humanSize(2_155_000), '2.155MB');
    assert.equal(humanSize(1_000_000), '1MB');
    assert.equal(humanSize(32_770), '32.77kB');
  });

  it('renders the bar moby puts in `progress`', () => {
    assert.equal(progressBar(50, 100), `[${'='.repeat(25)}>${' '.repeat(25)}]      50B/100B`);
    assert.equal(progressBar(100, 100), `[${'='.repeat(50)}>] ` + '    100B/100B');
    assert.equal(progressBar(0, 0), '');
    assert.deepEqual(progressLine('abc', 'Downloading', 1, 2).progressDetail, {
      current: 1,
      total: 2,
    });
  });

  it('turns errors into the final stream message', () => {
    assert.deepEqual(errorMessage(new Error('boom')), {
      error: 'boom',
      errorDetail: { message: 'boom' },
    });
  });
});
