import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median } from './pull.js';

describe('bench median', () => {
  it('takes the middle of odd and the mean of the middle two of even samples', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
