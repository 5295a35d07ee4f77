import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { packContext } from './build.js';

interface Read {
  name: string;
  type: string;
  uid: number;
  body: string;
  linkname?: string;
}

async function readTar(stream: Readable): Promise<Read[]> {
  const out: Read[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        out.push({
          name: h.name,
          type: h.type ?? 'file',
          uid: h.uid ?? -1,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(h.linkname ? { linkname: h.linkname } : {}),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}

describe('build context', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-build-ctx-'));
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    await writeFile(
      join(dir, '.dockerignore'),
      ['# comment', 'secret.txt', 'logs', '**/*.tmp', '!keep.tmp', 'Dockerfile'].join('\n'),
    );
    await writeFile(join(dir, 'app.txt'), 'app');
    await writeFile(join(dir, 'secret.txt'), 'secret');
    await writeFile(join(dir, 'keep.tmp'), 'kept');
    await mkdir(join(dir, 'logs'));
    await writeFile(join(dir, 'logs', 'a.log'), 'log');
    await mkdir(join(dir, 'src', 'deep'), { recursive: true });
    await writeFile(join(dir, 'src', 'deep', 'x.tmp'), 'tmp');
    await writeFile(join(dir, 'src', 'deep', 'main.c'), 'int main;');
    await symlink('deep/main.c', join(dir, 'src', 'link.c'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('honours .dockerignore with ! exceptions and always sends the Dockerfile and .dockerignore', async () => {
    const ctx = await packContext(dir);
    assert.equal(ctx.dockerfile, 'Dockerfile');
    const entries = await readTar(ctx.tar);
    assert.deepEqual(
      entries.map((e) => e.name),
      [
        '.dockerignore',
        'Dockerfile',
        'app.txt',
        'keep.tmp',
        'src',
        'src/deep',
        'src/deep/main.c',
        'src/link.c',
      ],
    );
    assert.ok(entries.every((e) => e.uid === 0));
    assert.equal(entries.find((e) => e.name === 'app.txt')?.body, 'app');
    assert.equal(entries.find((e) => e.name === 'keep.tmp')?.body, 'kept');
    assert.deepEqual(
      entries.find((e) => e.name === 'src/link.c'),
      { name: 'src/link.c', type: 'symlink', uid: 0, body: '', linkname: 'deep/main.c' },
    );
  });

  it('re-includes a file below an ignored directory', async () => {
    const sub = await mkdtemp(join(tmpdir(), 'berth-build-ctx-'));
    try {
      await writeFile(join(sub, 'Dockerfile'), 'FROM scratch\n');
      await writeFile(join(sub, '.dockerignore'), 'vendor\n!vendor/keep/**\n');
      await mkdir(join(sub, 'vendor', 'keep'), { recursive: true });
      await writeFile(join(sub, 'vendor', 'drop.txt'), 'x');
      await writeFile(join(sub, 'vendor', 'keep', 'k.txt'), 'k');
      const names = (await readTar((await packContext(sub)).tar)).map((e) => e.name);
      // `vendor/keep` itself stays ignored (the exception matches below it), as moby's matcher says.
      assert.deepEqual(names, ['.dockerignore', 'Dockerfile', 'vendor/keep/k.txt']);
    } finally {
      await rm(sub, { recursive: true, force: true });
    }
  });

  it('refuses a symbolic link that leaves the folder', async () => {
    const sub = await mkdtemp(join(tmpdir(), 'berth-build-ctx-'));
    try {
      await writeFile(join(sub, 'Dockerfile'), 'FROM scratch\n');
      await mkdir(join(sub, 'a'));
      await symlink('../../etc/passwd', join(sub, 'a', 'up'));
      await assert.rejects(
        packContext(sub),
        /a\/up is a symbolic link to \.\.\/\.\.\/etc\/passwd, outside the build context/,
      );
      await rm(join(sub, 'a', 'up'));
      await symlink('/etc/passwd', join(sub, 'abs'));
      await assert.rejects(packContext(sub), /abs is a symbolic link to \/etc\/passwd/);
      // An ignored link is not sent, so it is no escape.
      await writeFile(join(sub, '.dockerignore'), 'abs\n');
      assert.ok((await packContext(sub)).names.includes('Dockerfile'));
    } finally {
      await rm(sub, { recursive: true, force: true });
    }
  });

  it('takes another Dockerfile inside the folder, or one outside under a generated name', async () => {
    await writeFile(join(dir, 'src', 'Dockerfile.dev'), 'FROM scratch\n');
    const inside = await packContext(dir, 'src/Dockerfile.dev');
    assert.equal(inside.dockerfile, 'src/Dockerfile.dev');
    inside.tar.resume();
    const outsideDir = await mkdtemp(join(tmpdir(), 'berth-build-df-'));
    try {
      await writeFile(join(outsideDir, 'Dockerfile'), 'FROM busybox\n');
      const outside = await packContext(dir, join(outsideDir, 'Dockerfile'));
      assert.match(outside.dockerfile, /^\.dockerfile\.[0-9a-f]{20}$/);
      const entries = await readTar(outside.tar);
      assert.equal(entries.find((e) => e.name === outside.dockerfile)?.body, 'FROM busybox\n');
    } finally {
      await rm(outsideDir, { recursive: true, force: true });
    }
    await assert.rejects(packContext(dir, 'nope/Dockerfile'), /ENOENT|Cannot locate/);
  });
});
