import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { copyInto } from './copy.js';
import { archiveKind } from './archive.js';

const skip = skipUnless(['/usr/bin/xz', '/usr/bin/zstd', '/usr/bin/bzip2', '/bin/tar']);

describe('ADD of local archives', { skip }, () => {
  let dir: { path: string; remove(): void };
  const file = (name: string) => join(dir.path, name);

  before(async () => {
    dir = tempDir('build-archive');
    await mkdir(file('payload/sub'), { recursive: true });
    await writeFile(file('payload/sub/inner.txt'), 'inside\n');
    const tar = (name: string, ...flags: string[]) =>
      execFileSync('tar', [...flags, '-cf', file(name), '-C', file('payload'), '.']);
    tar('p.tar');
    tar('p.tar.gz', '-z');
    tar('p.tar.xz', '-J');
    tar('p.tar.zst', '--zstd');
    tar('p.tar.bz2', '-j');
    tar('renamed.bin', '-j');
    await writeFile(file('notes.txt'), 'just text\n');
    execFileSync('xz', ['-k', file('notes.txt')]);
    execFileSync('bzip2', ['-k', file('notes.txt')]);
    await writeFile(
      file('corrupt.tar.xz'),
      Buffer.concat([Buffer.from('fd377a585a00', 'hex'), Buffer.alloc(600, 7)]),
    );
    await writeFile(
      file('corrupt.tar.bz2'),
      Buffer.concat([Buffer.from('BZh9'), Buffer.alloc(600, 7)]),
    );
  });
  after(() => dir?.remove());

  it('recognises tar, tar.gz, tar.xz, tar.zst and tar.bz2 by content, not by name', async () => {
    assert.equal(await archiveKind(file('p.tar')), 'tar');
    assert.equal(await archiveKind(file('p.tar.gz')), 'gzip');
    assert.equal(await archiveKind(file('p.tar.xz')), 'xz');
    assert.equal(await archiveKind(file('p.tar.zst')), 'zstd');
    assert.equal(await archiveKind(file('p.tar.bz2')), 'bzip2');
    assert.equal(await archiveKind(file('renamed.bin')), 'bzip2', 'a bzip2 tar under any name');
    assert.equal(await archiveKind(file('notes.txt')), undefined);
    assert.equal(await archiveKind(file('notes.txt.xz')), undefined, 'xz data that is not a tar');
    assert.equal(
      await archiveKind(file('notes.txt.bz2')),
      undefined,
      'bzip2 data that is not a tar',
    );
  });

  for (const name of ['p.tar.xz', 'p.tar.zst', 'p.tar.gz', 'p.tar.bz2']) {
    it(`ADD unpacks ${name} into the destination`, async () => {
      const rootfs = file(`rootfs-${name}`);
      await mkdir(rootfs);
      await copyInto(rootfs, {
        keyword: 'ADD',
        sources: [{ hostPath: file(name), rel: name, isDir: false }],
        dest: '/unpacked/',
        workdir: '/',
      });
      assert.equal(await readFile(join(rootfs, 'unpacked/sub/inner.txt'), 'utf8'), 'inside\n');
    });
  }

  it('COPY never unpacks; ADD copies xz data that is not a tar as a file', async () => {
    const rootfs = file('rootfs-copy');
    await mkdir(rootfs);
    await copyInto(rootfs, {
      keyword: 'COPY',
      sources: [{ hostPath: file('p.tar.xz'), rel: 'p.tar.xz', isDir: false }],
      dest: '/x/',
      workdir: '/',
    });
    await copyInto(rootfs, {
      keyword: 'ADD',
      sources: [{ hostPath: file('notes.txt.xz'), rel: 'notes.txt.xz', isDir: false }],
      dest: '/x/',
      workdir: '/',
    });
    assert.deepEqual(await readFile(join(rootfs, 'x/p.tar.xz')), await readFile(file('p.tar.xz')));
    assert.deepEqual(
      await readFile(join(rootfs, 'x/notes.txt.xz')),
      await readFile(file('notes.txt.xz')),
    );
  });

  it('copies data its decoder rejects as a file, xz and bzip2 alike', async () => {
    assert.equal(await archiveKind(file('corrupt.tar.xz'), 'corrupt.tar.xz'), undefined);
    assert.equal(await archiveKind(file('corrupt.tar.bz2'), 'corrupt.tar.bz2'), undefined);
  });
});
