import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Driver, DriverFactory } from './driver.js';
import { Machine, RestartRequiredError } from './machine.js';

/**
 * configure() only needs to know whether the VM runs: a driver that boots nothing and answers
 * status() from a flag stands in for a hypervisor here (the QEMU driver's own status is covered
 * by the driver suite).
 */
function flagDriver(vm: { running: boolean }): DriverFactory {
  return (): Driver => ({
    name: 'flag',
    validate: () => Promise.resolve(),
    create: () => Promise.resolve(),
    start: () => Promise.reject(new Error('this driver boots nothing')),
    stop: () => Promise.resolve(),
    status: () => Promise.resolve({ running: vm.running }),
    guestAgent: () => Promise.resolve(undefined),
    delete: () => Promise.resolve(),
  });
}

describe('Machine.configure', () => {
  const vm = { running: false };
  let root: string;
  let machine: Machine;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'berth-configure-'));
    machine = new Machine({ root, drivers: { flag: flagDriver(vm) } });
    await machine.init({
      driver: 'flag',
      cpus: 2,
      memoryMiB: 1024,
      diskGiB: 8,
      image: { kernel: '/k', initrd: '/i' },
    });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const onDisk = () => JSON.parse(readFileSync(machine.paths.settings, 'utf8')) as unknown;

  it('saves validated settings of a stopped machine for its next start', async () => {
    const next = await machine.configure({
      cpus: 4,
      memoryMiB: 3072,
      diskGiB: 16,
      sharedFolders: [root, '/srv/data:ro'],
      insecureRegistries: ['10.0.2.2:5000'],
    });
    assert.equal(next.cpus, 4);
    assert.equal(next.memoryMiB, 3072);
    assert.equal(next.diskGiB, 16);
    assert.deepEqual(next.sharedFolders, [
      { hostPath: root, guestPath: root, tag: 'berth0', readOnly: false },
      { hostPath: '/srv/data', guestPath: '/srv/data', tag: 'berth1', readOnly: true },
    ]);
    assert.deepEqual(onDisk(), next);
    assert.deepEqual(machine.settings(), next);
    // What it does not name stays.
    assert.equal(next.driver, 'flag');
    assert.deepEqual(next.image, { kernel: '/k', initrd: '/i', cmdline: '' });
  });

  it('refuses invalid values and unknown keys, and never shrinks the disk', async () => {
    const before = onDisk();
    await assert.rejects(machine.configure({ cpus: 0 }), /cpus/);
    await assert.rejects(machine.configure({ memoryMiB: 12 }), /memoryMiB/);
    await assert.rejects(machine.configure({ sharedFolders: ['relative/dir'] }), /sharedFolders/);
    await assert.rejects(machine.configure({ name: 'other' } as never), /name/);
    await assert.rejects(machine.configure({ diskGiB: 4 }), /cannot shrink \(it is 16 GiB/);
    assert.deepEqual(onDisk(), before);
  });

  it('refuses a change while the VM runs (apply & restart); the same values are fine', async () => {
    vm.running = true;
    try {
      const before = onDisk();
      await assert.rejects(
        machine.configure({ cpus: 1, memoryMiB: 3072 }),
        (e: unknown) =>
          e instanceof RestartRequiredError &&
          e.changed.join() === 'cpus' &&
          /is running: cpus take effect at the next start/.test(e.message),
      );
      assert.deepEqual(onDisk(), before);
      assert.equal(
        (await machine.configure({ cpus: 4, sharedFolders: [root, '/srv/data:ro'] })).cpus,
        4,
      );
    } finally {
      vm.running = false;
    }
    assert.equal((await machine.configure({ cpus: 1 })).cpus, 1);
  });
});
