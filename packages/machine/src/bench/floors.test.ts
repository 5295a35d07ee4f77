import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { busyboxFloorImage, nodeFloorImage, NODE_FLOOR_CMDLINE, parseFloorLine } from './floors.js';

const IMAGE = {
  kernel: '/img/vmlinuz',
  kernelElf: '/img/vmlinux',
  initrd: '/img/initramfs.img',
  system: '/img/system.img',
  cmdline: 'quiet panic=-1',
};

describe('VM bench floors', () => {
  it('parses the marker line a floor prints, among console noise', () => {
    assert.deepEqual(parseFloorLine('berth-floor: node 7.42\r'), { name: 'node', uptime: 7.42 });
    assert.deepEqual(parseFloorLine('[ 1.2] x berth-floor: busybox 1.05'), {
      name: 'busybox',
      uptime: 1.05,
    });
    assert.equal(parseFloorLine('berth-stage: ready 9.1s'), undefined);
    assert.equal(parseFloorLine('berth-floor: node'), undefined);
  });

  it('boots the node floor from the same image with the switch on the command line', () => {
    assert.deepEqual(nodeFloorImage(IMAGE), {
      ...IMAGE,
      cmdline: `quiet panic=-1 ${NODE_FLOOR_CMDLINE}`,
    });
  });

  it('writes a busybox-only initramfs and boots it with the same kernel, no system disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-floor-test-'));
    try {
      const floor = busyboxFloorImage(IMAGE, dir, '/bin/busybox');
      assert.equal(floor.system, undefined);
      assert.equal(floor.kernelElf, IMAGE.kernelElf);
      assert.equal(floor.cmdline, IMAGE.cmdline);
      const cpio = gunzipSync(readFileSync(floor.initrd)).toString('latin1');
      assert.ok(cpio.startsWith('070701'));
      for (const name of ['bin/busybox', 'dev/console', 'init', 'TRAILER!!!'])
        assert.ok(cpio.includes(`${name}\0`), name);
      assert.match(cpio, /berth-floor: busybox/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
