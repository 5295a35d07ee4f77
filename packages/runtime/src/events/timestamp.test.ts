import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidParameterError } from '../api/errors.js';
import { parseTimestamp } from './timestamp.js';

describe('parseTimestamp (events since/until)', () => {
  const now = 1_700_000_000_000; // ms

  it('treats empty and absent values as unset', () => {
    assert.equal(parseTimestamp(null), undefined);
    assert.equal(parseTimestamp(''), undefined);
  });

  it('reads unix seconds with an optional fraction, as the docker CLI sends them', () => {
    assert.equal(parseTimestamp('1700000000'), 1_700_000_000_000_000_000n);
    assert.equal(parseTimestamp('1700000000.5'), 1_700_000_000_500_000_000n);
    assert.equal(parseTimestamp('1700000000.000000001'), 1_700_000_000_000_000_001n);
  });

  it('reads RFC 3339 dates', () => {
    assert.equal(parseTimestamp('2023-11-14T22:13:20Z'), 1_700_000_000_000_000_000n);
    assert.equal(parseTimestamp('2023-11-14T23:13:20.250+01:00'), 1_700_000_000_250_000_000n);
  });

  it('reads Go durations as that long before now', () => {
    const nowNano = BigInt(now) * 1_000_000n;
    assert.equal(parseTimestamp('10m', now), nowNano - 600_000_000_000n);
    assert.equal(parseTimestamp('1h30m', now), nowNano - 5_400_000_000_000n);
    assert.equal(parseTimestamp('1.5s', now), nowNano - 1_500_000_000n);
  });

  it('refuses anything else with a 400', () => {
    for (const bad of ['yesterday', '10x', '1.2.3', '2023-13-45']) {
      assert.throws(() => parseTimestamp(bad), InvalidParameterError, bad);
    }
  });
});
