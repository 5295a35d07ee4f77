import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { imageFromDir } from './image.js';

describe('imageFromDir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-image-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('maps the build output and reads the command line from the manifest', () => {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ cmdline: 'console=ttyS0 quiet' }));
    assert.deepEqual(imageFromDir(dir), {
      kernel: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initramfs.img'),
      system: join(dir, 'system.img'),
      cmdline: 'console=ttyS0 quiet',
    });
  });

  it('offers the uncompressed kernel when the image has one (amd64)', () => {
    writeFileSync(join(dir, 'vmlinux'), '');
    assert.equal(imageFromDir(dir).kernelElf, join(dir, 'vmlinux'));
  });
});
