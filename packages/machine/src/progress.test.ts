import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOT_STAGES } from '@berth/vm-image/protocol';
import { progressFor, progressFromConsole } from './progress.js';

describe('boot progress', () => {
  it('parses stage lines off the console, amid kernel noise and CRs', () => {
    assert.equal(progressFromConsole('[    0.000000] Linux version 6.1.0'), undefined);
    const p = progressFromConsole('berth-stage: engine\r');
    assert.ok(p && 'stage' in p);
    assert.equal(p.stage, 'engine');
    assert.deepEqual(progressFromConsole('berth-stage: failed no data disk'), {
      failed: 'no data disk',
    });
  });

  it('moves monotonically from launch to running', () => {
    const stages = ['launch', ...BOOT_STAGES, 'bridge', 'running'] as const;
    const percents = stages.map((s) => progressFor(s).percent);
    assert.deepEqual(
      [...percents].sort((a, b) => a - b),
      percents,
    );
    assert.equal(percents.at(-1), 100);
    assert.ok(new Set(percents).size === percents.length);
  });
});
