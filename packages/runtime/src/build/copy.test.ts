import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { makeTar as tarOf } from '../storage/test-tar.js';
import { tempDir } from '../testing/process.js';
import { applyDockerignore, readDockerfile, unpackContext } from './context.js';
import { copyInto, resolveSources, sourcesDigest } from './copy.js';

describe('build context and COPY sources', () => {
  let dir: { path: string; remove(): void };
  let context: string;
  let rootfs: string;

  before(async () => {
    dir = tempDir('build-copy');
    context = join(dir.path, 'ctx');
    rootfs = join(dir.path, 'rootfs');
    await mkdir(context);
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await writeFile(join(rootfs, 'etc', 'existing'), 'old');
    const body = await tarOf([
      { name: 'Dockerfile', body: 'FROM scratch\n' },
      { name: '.dockerignore', body: '*.log\nsecret\n' },
      { name: 'a.txt', body: 'A', mode: 0o640 },
      { name: 'b.txt', body: 'B' },
      { name: 'debug.log', body: 'L' },
      { name: 'secret/key', body: 'K' },
      { name: 'dir/', type: 'directory' },
      { name: 'dir/sub/c.txt', body: 'C' },
      { name: 'dir/link', type: 'symlink', linkname: 'sub/c.txt' },
      { name: 'escape', type: 'symlink', linkname: '../../../../../../etc/passwd' },
    ]);
    await unpackContext(Readable.from([gzipSync(body)]), context);
  });

  after(() => dir.remove());

  it('unpacks a gzip context, reads the Dockerfile and applies .dockerignore', async () => {
    assert.equal((await readDockerfile(context, 'Dockerfile')).dockerfile, 'FROM scratch\n');
    await assert.rejects(
      readDockerfile(context, 'Nope'),
      /Cannot locate specified Dockerfile: Nope/,
    );
    await applyDockerignore(context);
    await assert.rejects(lstat(join(context, 'debug.log')));
    await assert.rejects(lstat(join(context, 'secret')));
    assert.equal(await readFile(join(context, 'a.txt'), 'utf8'), 'A');
  });

  it('refuses a context archive with entries escaping it', async () => {
    const bad = join(dir.path, 'bad');
    await mkdir(bad);
    const body = await tarOf([{ name: '../outside.txt', body: 'x' }]);
    await assert.rejects(unpackContext(Readable.from([body]), bad), /invalid build context/);
    await assert.rejects(lstat(join(dir.path, 'outside.txt')));
  });

  it('resolves sources: files, wildcards, missing ones, symlinks escaping the context', async () => {
    const two = await resolveSources(context, ['*.txt'], 'COPY', true);
    assert.deepEqual(
      two.map((s) => s.rel),
      ['a.txt', 'b.txt'],
    );
    await assert.rejects(
      resolveSources(context, ['nope'], 'COPY', true),
      /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope: file does not exist/,
    );
    await assert.rejects(
      resolveSources(context, ['escape'], 'COPY', true),
      /COPY failed: forbidden path outside the build context: escape/,
    );
    await assert.rejects(
      resolveSources(context, ['../x'], 'COPY', true),
      /forbidden path outside the build context: \.\.\/x/,
    );
    await assert.rejects(resolveSources(context, ['*.none'], 'COPY', true), /no source files/);
    await assert.rejects(
      resolveSources(context, ['http://127.0.0.1/x'], 'ADD', true),
      /ADD failed: downloading/,
    );
  });

  it('hashes sources by content, not by time', async () => {
    const [a] = await resolveSources(context, ['a.txt'], 'COPY', true);
    const [d] = await resolveSources(context, ['dir'], 'COPY', true);
    assert.match(await sourcesDigest([a!]), /^file:[0-9a-f]{64}$/);
    assert.match(await sourcesDigest([d!]), /^dir:[0-9a-f]{64}$/);
    const before = await sourcesDigest([a!, d!]);
    assert.match(before, /^multi:/);
    await writeFile(join(context, 'a.txt'), 'A');
    assert.equal(await sourcesDigest([a!, d!]), before);
    await writeFile(join(context, 'a.txt'), 'A2');
    assert.notEqual(await sourcesDigest([a!, d!]), before);
  });

  it('copies with Docker destination rules, owners and modes', async () => {
    const files = await resolveSources(context, ['a.txt', 'b.txt'], 'COPY', true);
    await assert.rejects(
      copyInto(rootfs, { keyword: 'COPY', sources: files, dest: '/many', workdir: '/' }),
      /destination must be a directory and end with a \//,
    );
    await copyInto(rootfs, {
      keyword: 'COPY',
      sources: files,
      dest: 'many/',
      workdir: '/work',
      owner: { uid: 7, gid: 8 },
    });
    const st = await lstat(join(rootfs, 'work/many/a.txt'));
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.uid, 7);
    assert.equal(st.gid, 8);
    // A single file to a non-directory path is that file.
    await copyInto(rootfs, {
      keyword: 'COPY',
      sources: [files[1]!],
      dest: '/etc/existing',
      workdir: '/',
    });
    assert.equal(await readFile(join(rootfs, 'etc/existing'), 'utf8'), 'B');
    // A directory copies its contents; symlinks stay links.
    const d = await resolveSources(context, ['dir'], 'COPY', true);
    await copyInto(rootfs, { keyword: 'COPY', sources: d, dest: '/d', workdir: '/' });
    assert.equal(await readFile(join(rootfs, 'd/sub/c.txt'), 'utf8'), 'C');
    assert.equal(await readlink(join(rootfs, 'd/link')), 'sub/c.txt');
  });

  it('writes through an image symlink only inside the rootfs', async () => {
    await symlink('/etc', join(rootfs, 'etc-link'));
    await symlink('../../../../../../tmp', join(rootfs, 'up'));
    const [b] = await resolveSources(context, ['b.txt'], 'COPY', true);
    await copyInto(rootfs, { keyword: 'COPY', sources: [b!], dest: '/etc-link/', workdir: '/' });
    assert.equal(await readFile(join(rootfs, 'etc/b.txt'), 'utf8'), 'B');
    await copyInto(rootfs, { keyword: 'COPY', sources: [b!], dest: '/up/', workdir: '/' });
    // `..` stops at the rootfs: the link means the rootfs's /tmp.
    assert.equal(await readFile(join(rootfs, 'tmp/b.txt'), 'utf8'), 'B');
  });

  it('ADD unpacks a local tar.gz into the destination', async () => {
    const archive = gzipSync(await tarOf([{ name: 'x/inner.txt', body: 'I' }]));
    await writeFile(join(context, 'pkg.tgz'), archive);
    const src = await resolveSources(context, ['pkg.tgz'], 'ADD', true);
    await copyInto(rootfs, { keyword: 'ADD', sources: src, dest: '/opt/', workdir: '/' });
    assert.equal(await readFile(join(rootfs, 'opt/x/inner.txt'), 'utf8'), 'I');
    // COPY keeps it an archive.
    await copyInto(rootfs, { keyword: 'COPY', sources: src, dest: '/opt/', workdir: '/' });
    assert.deepEqual(await readFile(join(rootfs, 'opt/pkg.tgz')), archive);
  });
});
