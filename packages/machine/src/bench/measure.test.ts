import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuPercent, cpuTicks, usedMemoryKiB, verdict, verdictText } from './measure.js';

const MEMINFO = `MemTotal:        2010052 kB
MemFree:         1788412 kB
MemAvailable:    1903564 kB
Buffers:            3004 kB
Cached:           140352 kB
`;

describe('VM bench measurements', () => {
  it('reads guest memory use as MemTotal − MemAvailable', () => {
    assert.equal(usedMemoryKiB(MEMINFO), 2010052 - 1903564);
    assert.throws(() => usedMemoryKiB('MemTotal: 5 kB\n'), /MemAvailable/);
  });

  it('sums utime and stime of /proc/<pid>/stat, even with spaces and parentheses in the name', () => {
    const stat =
      '4242 (qemu (x) 86) S 1 4242 4242 0 -1 4194560 12345 0 7 0 1500 250 3 4 20 0 5 0 100 3734448000 65000';
    assert.equal(cpuTicks(stat), 1750);
    assert.throws(() => cpuTicks('1 (x) S'), /unreadable/);
  });

  it('turns tick counts over a wall window into percent of one core', () => {
    assert.equal(cpuPercent(1000, 1300, 30_000, 100), 10);
    assert.equal(cpuPercent(0, 250, 1000, 250), 100);
    assert.equal(cpuPercent(5, 9, 0), 0);
  });

  it('compares with a floor (at most) or a peer (at least)', () => {
    const slow = verdict(13, 10, 1.3, 'at-most');
    assert.equal(slow.ok, true);
    assert.match(verdictText(slow), /^1\.30 \(target ≤ 1\.3\) OK$/);
    assert.equal(verdict(14, 10, 1.3, 'at-most').ok, false);
    assert.match(verdictText(verdict(14, 10, 1.3, 'at-most')), /OVER TARGET$/);
    const rate = verdict(80, 100, 1, 'at-least');
    assert.equal(rate.ok, false);
    assert.match(verdictText(rate), /^0\.80 \(target ≥ 1\) BELOW TARGET$/);
    assert.equal(verdict(1, 0, 1, 'at-most').ok, false);
  });
});
