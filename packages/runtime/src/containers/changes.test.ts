import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { extract } from 'tar-stream';
import { lsetxattr, mknod, S_IF } from '../os/libc.js';
import { applyLayer, OVERLAY_OPAQUE_XATTR } from '../storage/apply-layer.js';
import { tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';
import { packTree } from './archive.js';
import { ChangeKind, layerChanges, mountStubs } from './changes.js';

const skip = skipUnless(['root']);

async function entries(
  pack: AsyncIterable<unknown>,
): Promise<Array<{ name: string; type: string | null | undefined }>> {
  const out: Array<{ name: string; type: string | null | undefined }> = [];
  const ex = extract();
  const reading = (async () => {
    for await (const e of ex) {
      out.push({ name: e.header.name, type: e.header.type });
      e.resume();
    }
  })();
  for await (const chunk of pack) ex.write(chunk);
  ex.end(undefined);
  await reading;
  return out;
}

describe('container changes and the tree tar writer', { skip }, () => {
  const dir = tempDir('berth-changes-');
  after(() => dir.remove());

  // lower: /etc/passwd, /bin/true, /keep/a, /gone/x; upper: modified passwd, whiteouts,
  // an opaque dir, a new file, and the runtime's mount stubs.
  const lower = join(dir.path, 'lower');
  const upper = join(dir.path, 'upper');
  for (const d of ['etc', 'bin', 'keep', 'gone']) mkdirSync(join(lower, d), { recursive: true });
  writeFileSync(join(lower, 'etc/passwd'), 'root\n');
  writeFileSync(join(lower, 'bin/true'), 'x');
  writeFileSync(join(lower, 'keep/a'), 'a');
  writeFileSync(join(lower, 'gone/x'), 'x');
  for (const d of ['etc', 'bin', 'keep', 'proc', 'new/deep'])
    mkdirSync(join(upper, d), { recursive: true });
  writeFileSync(join(upper, 'etc/passwd'), 'root\napp\n');
  writeFileSync(join(upper, 'etc/hosts'), '');
  mknod(join(upper, 'bin/true'), S_IF.CHR, 0, 0);
  mknod(join(upper, 'gone'), S_IF.CHR, 0, 0);
  lsetxattr(join(upper, 'keep'), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
  writeFileSync(join(upper, 'keep/b'), 'b');
  writeFileSync(join(upper, 'new/deep/file'), 'n');
  symlinkSync('/etc/passwd', join(upper, 'new/link'));

  it('finds added, modified and deleted paths, without mount stubs', async () => {
    const stubs = await mountStubs(upper, [lower], ['/proc', '/etc/hosts', '/sys']);
    assert.deepEqual([...stubs].sort(), ['etc/hosts', 'proc']);
    const changes = await layerChanges(upper, [lower], stubs);
    assert.deepEqual(changes, [
      { Path: '/bin', Kind: ChangeKind.Modified },
      { Path: '/bin/true', Kind: ChangeKind.Deleted },
      { Path: '/etc', Kind: ChangeKind.Modified },
      { Path: '/etc/passwd', Kind: ChangeKind.Modified },
      { Path: '/gone', Kind: ChangeKind.Deleted },
      { Path: '/keep', Kind: ChangeKind.Modified },
      { Path: '/keep/b', Kind: ChangeKind.Added },
      { Path: '/new', Kind: ChangeKind.Added },
      { Path: '/new/deep', Kind: ChangeKind.Added },
      { Path: '/new/deep/file', Kind: ChangeKind.Added },
      { Path: '/new/link', Kind: ChangeKind.Added },
    ]);
  });

  it('writes whiteouts and opaque dirs back as .wh. entries, and they apply again', async () => {
    const stubs = await mountStubs(upper, [lower], ['/proc', '/etc/hosts']);
    const list = await entries(packTree(upper, { whiteouts: true, exclude: (r) => stubs.has(r) }));
    const names = list.map((e) => e.name);
    assert.ok(names.includes('bin/.wh.true'));
    assert.ok(names.includes('.wh.gone'));
    assert.ok(names.includes('keep/.wh..wh..opq'));
    assert.ok(!names.includes('proc/') && !names.includes('etc/hosts'));
    assert.equal(list.find((e) => e.name === 'new/link')?.type, 'symlink');

    // The layer applies as a layer: whiteouts become overlay whiteouts again.
    const target = join(dir.path, 'applied');
    mkdirSync(target);
    await applyLayer(Readable.from(packTree(upper, { whiteouts: true })), target);
    const again = await layerChanges(target, [lower]);
    assert.ok(again.some((c) => c.Path === '/bin/true' && c.Kind === ChangeKind.Deleted));
  });

  it('renames the root entry for cp', async () => {
    const names = (await entries(packTree(join(lower, 'etc'), { rebaseName: 'conf' }))).map(
      (e) => e.name,
    );
    assert.deepEqual(names, ['conf/', 'conf/passwd']);
    const single = (await entries(packTree(join(lower, 'etc/passwd'), { rebaseName: 'pw' }))).map(
      (e) => e.name,
    );
    assert.deepEqual(single, ['pw']);
  });
});
