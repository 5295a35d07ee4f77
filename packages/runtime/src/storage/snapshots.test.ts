import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ConflictError, NotFoundError } from '../api/errors.js';
import type { Digest } from '../images/oci.js';
import { chainIds } from '../images/oci.js';
import { OverlaySnapshotter } from './snapshots.js';
import type { LayerSource } from './snapshots.js';
import { makeTar } from './test-tar.js';

interface Layer {
  blob: Buffer;
  diffId: Digest;
}

function layer(tar: Buffer, compress: (tar: Buffer) => Buffer = gzipSync): Layer {
  return {
    blob: compress(tar),
    diffId: `sha256:${createHash('sha256').update(tar).digest('hex')}`,
  };
}

function source(l: Layer, diffId = l.diffId): LayerSource {
  return { stream: Readable.from([l.blob]), diffId };
}

const zstd = (tar: Buffer): Buffer => execFileSync('/usr/bin/zstd', ['-q', '-c'], { input: tar });

describe('OverlaySnapshotter', () => {
  let tmp: string;
  let base: Layer;
  let top: Layer;
  let chain: Digest[];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'berth-snap-'));
    base = layer(
      await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/gone', body: 'deleted above' },
        { name: 'etc/kept', body: 'from base' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/lower', body: 'hidden by the opaque dir' },
        { name: 'bin/', type: 'directory' },
        { name: 'bin/tool', body: 'x'.repeat(1000), mode: 0o755 },
        { name: 'bin/alias', type: 'link', linkname: 'bin/tool' },
      ]),
    );
    top = layer(
      await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.gone', body: '' },
        { name: 'etc/added', body: 'from top' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/.wh..wh..opq', body: '' },
        { name: 'opq/upper', body: 'only this' },
      ]),
      zstd,
    );
    chain = chainIds([base.diffId, top.diffId]);
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function fresh(name: string): Promise<OverlaySnapshotter> {
    const s = new OverlaySnapshotter(join(tmp, name));
    await s.repair();
    return s;
  }

  async function leftovers(name: string): Promise<string[]> {
    return (await readdir(join(tmp, name, 'snapshots'))).filter((e) => !/^\d+$/.test(e));
  }

  it('unpacks a two-layer chain and lists lowerdirs top first', async () => {
    const s = await fresh('chain');
    const [c1, c2] = chain as [Digest, Digest];
    const i1 = await s.unpack(c1, undefined, source(base));
    assert.equal(i1.name, c1);
    assert.equal(i1.parent, undefined);
    assert.equal(i1.diffId, base.diffId);
    assert.equal(
      i1.size,
      1000 + 'deleted above'.length + 'from base'.length + 'hidden by the opaque dir'.length,
    );
    const i2 = await s.unpack(c2, c1, source(top));
    assert.equal(i2.parent, c1);
    const dirs = await s.lowerDirs(c2);
    assert.equal(dirs.length, 2);
    assert.deepEqual(dirs.slice(1), await s.lowerDirs(c1));
    assert.equal(await readFile(join(dirs[0] ?? '', 'etc/added'), 'utf8'), 'from top');
    assert.equal(await readFile(join(dirs[1] ?? '', 'etc/kept'), 'utf8'), 'from base');
    assert.deepEqual((await s.list()).map((i) => i.name).sort(), [c1, c2].sort());

    // A second instance reads the same state from disk.
    const again = new OverlaySnapshotter(join(tmp, 'chain'));
    assert.deepEqual(await again.stat(c2), i2);
    assert.deepEqual(await again.lowerDirs(c2), dirs);
  });

  it('resolves at once for an existing name, destroying the unread stream', async () => {
    const s = await fresh('idem');
    const c1 = chain[0] as Digest;
    const first = await s.unpack(c1, undefined, source(base));
    const src = source(base);
    assert.deepEqual(await s.unpack(c1, undefined, src), first);
    assert.ok(src.stream.destroyed);
    assert.deepEqual(await readdir(join(tmp, 'idem', 'snapshots')), ['1']);
  });

  it('shares one unpack between concurrent calls for a name', async () => {
    const s = await fresh('concurrent');
    const c1 = chain[0] as Digest;
    const results = await Promise.all([1, 2, 3].map(() => s.unpack(c1, undefined, source(base))));
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
    assert.deepEqual(await readdir(join(tmp, 'concurrent', 'snapshots')), ['1']);
    // A child started at the same time as its parent waits for it.
    const c2 = chain[1] as Digest;
    await s.remove(c1);
    const [p, c] = await Promise.all([
      s.unpack(c1, undefined, source(base)),
      s.unpack(c2, c1, source(top)),
    ]);
    assert.equal(c.parent, p.name);
  });

  it('leaves nothing behind on a diff ID mismatch', async () => {
    const s = await fresh('mismatch');
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(
      s.unpack(chain[0] as Digest, undefined, source(base, wrong)),
      (err: Error) => {
        assert.match(
          err.message,
          /wrong diff id calculated on extraction: expected sha256:0+, got sha256:/,
        );
        return true;
      },
    );
    assert.equal(await s.stat(chain[0] as Digest), undefined);
    assert.deepEqual(await readdir(join(tmp, 'mismatch', 'snapshots')), []);
    // The name is free again for a correct unpack.
    await s.unpack(chain[0] as Digest, undefined, source(base));
  });

  it('leaves nothing behind for a hostile or corrupt layer', async () => {
    const s = await fresh('hostile');
    const evil = layer(
      await makeTar([
        { name: 'ok', body: 'x' },
        { name: '../../escape', body: 'x' },
      ]),
    );
    await assert.rejects(s.unpack('evil', undefined, source(evil)), /escapes the layer root/);
    const corrupt = { blob: base.blob.subarray(0, base.blob.length - 30), diffId: base.diffId };
    await assert.rejects(
      s.unpack('corrupt', undefined, source(corrupt)),
      /invalid gzip layer data/,
    );
    assert.deepEqual(await readdir(join(tmp, 'hostile', 'snapshots')), []);
    await assert.rejects(lstat(join(tmp, 'escape')), { code: 'ENOENT' });
  });

  it('refuses a missing parent', async () => {
    const s = await fresh('orphan');
    await assert.rejects(s.unpack(chain[1] as Digest, chain[0], source(top)), NotFoundError);
    assert.deepEqual(await leftovers('orphan'), []);
  });

  it('repair() removes partial snapshots left by a crash', async () => {
    const s = await fresh('repair');
    const info = await s.unpack(chain[0] as Digest, undefined, source(base));
    const snaps = join(tmp, 'repair', 'snapshots');
    // What a crash leaves: an unpack in progress, a remove in progress, a dir without metadata.
    await mkdir(join(snaps, '.tmp-7', 'fs', 'etc'), { recursive: true });
    await writeFile(join(snaps, '.tmp-7', 'fs', 'etc', 'half'), 'x');
    await mkdir(join(snaps, '.tmp-rm-3', 'fs'), { recursive: true });
    await mkdir(join(snaps, '9', 'fs'), { recursive: true });
    await writeFile(join(snaps, '9', 'meta.json'), '{"name": 12');
    const restarted = new OverlaySnapshotter(join(tmp, 'repair'));
    await restarted.repair();
    assert.deepEqual(await readdir(snaps), ['1']);
    assert.deepEqual(await restarted.list(), [info]);
    // New ids do not reuse those of the removed leftovers' era.
    const top2 = await restarted.unpack(chain[1] as Digest, chain[0], source(top));
    assert.ok((await restarted.lowerDirs(top2.name))[0]?.includes(`${join(snaps, '10')}`));
  });

  it('remove() refuses while a child exists, then removes', async () => {
    const s = await fresh('remove');
    const [c1, c2] = chain as [Digest, Digest];
    await s.unpack(c1, undefined, source(base));
    await s.unpack(c2, c1, source(top));
    await assert.rejects(s.remove(c1), (err: Error) => {
      assert.ok(err instanceof ConflictError);
      assert.match(err.message, /is the parent of snapshot/);
      return true;
    });
    await s.remove(c2);
    await s.remove(c1);
    await assert.rejects(s.remove(c1), NotFoundError);
    await assert.rejects(s.lowerDirs(c1), NotFoundError);
    assert.deepEqual(await readdir(join(tmp, 'remove', 'snapshots')), []);
  });

  it('mounts the chain with overlayfs: whiteouts and opaque dirs hide lower content', async (t) => {
    const s = await fresh('mount');
    const [c1, c2] = chain as [Digest, Digest];
    await s.unpack(c1, undefined, source(base));
    await s.unpack(c2, c1, source(top));
    const mnt = join(tmp, 'mnt');
    await mkdir(mnt);
    const r = spawnSync(
      'mount',
      ['-t', 'overlay', 'overlay', '-o', `lowerdir=${(await s.lowerDirs(c2)).join(':')}`, mnt],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (r.status !== 0) {
      t.skip(`overlay mount failed here: ${(r.stderr || String(r.error)).trim()}`);
      return;
    }
    try {
      assert.deepEqual((await readdir(join(mnt, 'etc'))).sort(), ['added', 'kept']);
      assert.deepEqual(await readdir(join(mnt, 'opq')), ['upper']);
      assert.equal(await readFile(join(mnt, 'bin/alias'), 'utf8'), 'x'.repeat(1000));
    } finally {
      spawnSync('umount', [mnt], { timeout: 30_000 });
    }
  });
});
