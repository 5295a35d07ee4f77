import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  acceleratorCandidates,
  bootWithFallback,
  readKnownBad,
  rememberBad,
  type HostFacts,
} from './accel.js';
import type { QemuAccelerator } from './args.js';

const linux: HostFacts = { platform: 'linux', arch: 'x86_64', kvmUsable: true };

describe('acceleratorCandidates', () => {
  it('tries the host hypervisor first and TCG last', () => {
    assert.deepEqual(acceleratorCandidates('x86_64', linux), ['kvm', 'tcg']);
    assert.deepEqual(
      acceleratorCandidates('aarch64', { platform: 'darwin', arch: 'aarch64', kvmUsable: false }),
      ['hvf', 'tcg'],
    );
    assert.deepEqual(
      acceleratorCandidates('x86_64', { platform: 'win32', arch: 'x86_64', kvmUsable: false }),
      ['whpx', 'tcg'],
    );
  });

  it('emulates a foreign architecture with TCG only', () => {
    assert.deepEqual(acceleratorCandidates('aarch64', linux), ['tcg']);
  });

  it('skips KVM when /dev/kvm is not usable, and accelerators known to hang', () => {
    assert.deepEqual(acceleratorCandidates('x86_64', { ...linux, kvmUsable: false }), ['tcg']);
    assert.deepEqual(acceleratorCandidates('x86_64', linux, { knownBad: ['kvm'] }), ['tcg']);
  });

  it('follows an explicit request in its order', () => {
    assert.deepEqual(acceleratorCandidates('x86_64', linux, { requested: ['tcg'] }), ['tcg']);
    assert.deepEqual(acceleratorCandidates('x86_64', linux, { requested: ['tcg', 'kvm'] }), [
      'tcg',
      'kvm',
    ]);
  });
});

describe('bootWithFallback', () => {
  it('falls back when the accelerated boot does not come up', async () => {
    const tried: string[] = [];
    const failed: string[] = [];
    const r = await bootWithFallback(
      ['kvm', 'tcg'] as QemuAccelerator[],
      (accel) => {
        tried.push(accel);
        return accel === 'kvm'
          ? Promise.reject(new Error('no sign of life in 30 s'))
          : Promise.resolve(42);
      },
      (a) => failed.push(`${a.accelerator}: ${a.error}`),
    );
    assert.deepEqual(r, { accelerator: 'tcg', result: 42 });
    assert.deepEqual(tried, ['kvm', 'tcg']);
    assert.deepEqual(failed, ['kvm: no sign of life in 30 s']);
  });

  it('gives up with the last error when nothing boots', async () => {
    await assert.rejects(
      bootWithFallback(
        ['tcg'],
        () => Promise.reject(new Error('kernel missing')),
        () => undefined,
      ),
      /kernel missing/,
    );
  });

  it('tells the last candidate it is the last (it gets the long timeout)', async () => {
    const flags: boolean[] = [];
    await bootWithFallback(
      ['kvm', 'tcg'],
      (_a, isLast) => {
        flags.push(isLast);
        return isLast ? Promise.resolve(1) : Promise.reject(new Error('hang'));
      },
      () => undefined,
    );
    assert.deepEqual(flags, [false, true]);
  });
});

describe('accelerator verdicts', () => {
  it('remembers accelerators that failed, per file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-accel-'));
    try {
      const file = join(dir, 'accelerators.json');
      assert.deepEqual(readKnownBad(file), []);
      rememberBad(file, 'kvm');
      rememberBad(file, 'kvm');
      assert.deepEqual(readKnownBad(file), ['kvm']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
