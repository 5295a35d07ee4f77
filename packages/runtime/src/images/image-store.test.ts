import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsContentStore } from './content-store.js';
import { FsImageStore, type ImageRecord } from './image-store.js';
import type { Digest } from './oci.js';

const now = () => new Date().toISOString();

describe('FsImageStore', () => {
  let dir: string;
  let content: FsContentStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-image-store-'));
    content = new FsContentStore(join(dir, 'content'));
    await content.repair();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A stored config blob whose digest is the image ID; IDs share a prefix when asked. */
  async function config(n: number): Promise<Digest> {
    const info = await content.put(Buffer.from(JSON.stringify({ n, architecture: 'amd64' })));
    return info.digest;
  }

  async function store(name: string): Promise<FsImageStore> {
    const s = new FsImageStore(join(dir, name), content);
    await s.repair();
    return s;
  }

  const record = (
    id: Digest,
    repoTags: string[] = [],
    repoDigests: string[] = [],
  ): ImageRecord => ({
    id,
    repoTags,
    repoDigests,
    stored: now(),
  });

  it('finds images by familiar name, full name, tag default, digest reference and ID', async () => {
    const s = await store('lookup');
    const id = await config(1);
    const digestRef = `docker.io/library/busybox@sha256:${'a'.repeat(64)}`;
    await s.put(record(id, ['busybox'], [digestRef]));
    for (const name of [
      'busybox',
      'busybox:latest',
      'library/busybox:latest',
      'docker.io/library/busybox:latest',
      'index.docker.io/library/busybox',
      `busybox@sha256:${'a'.repeat(64)}`,
      id,
      id.slice('sha256:'.length),
      id.slice(0, 'sha256:'.length + 5),
      id.slice('sha256:'.length, 'sha256:'.length + 3),
    ]) {
      assert.equal((await s.lookup(name))?.id, id, name);
    }
    assert.deepEqual((await s.get(id))?.repoTags, ['docker.io/library/busybox:latest']);
    for (const name of ['busybox:1', 'other', `busybox@sha256:${'b'.repeat(64)}`, 'Busybox', '']) {
      assert.equal(await s.lookup(name), undefined, name);
    }
  });

  it('an ambiguous ID prefix finds nothing, as Docker answers "No such image"', async () => {
    const s = await store('prefix');
    // Make two IDs that share their first hex digit.
    const ids: Digest[] = [];
    for (let n = 100; ids.length < 2; n++) {
      const id = await config(n);
      if (ids.length === 0 || id.charAt(7) === ids[0]?.charAt(7)) ids.push(id);
    }
    const [a, b] = ids as [Digest, Digest];
    await s.put(record(a));
    await s.put(record(b));
    assert.equal(await s.lookup(a.charAt(7)), undefined);
    assert.equal((await s.lookup(a.slice(7, 7 + 20)))?.id, a);
    assert.equal((await s.lookup(b.slice(0, 7 + 20)))?.id, b);
  });

  it('a name that looks like a hex prefix is a tag first', async () => {
    const s = await store('hexname');
    const id = await config(2);
    const other = await config(3);
    await s.put(record(id));
    await s.put(record(other, [`${id.slice(7, 13)}:latest`]));
    assert.equal((await s.lookup(id.slice(7, 13)))?.id, other);
  });

  it('tag moves a name between images; untag removes it; put merges names', async () => {
    const s = await store('tags');
    const a = await config(4);
    const b = await config(5);
    await s.put(record(a, ['app:1']));
    await s.put(record(b));
    await s.tag(b, 'app:1');
    assert.deepEqual((await s.get(a))?.repoTags, []);
    assert.deepEqual((await s.get(b))?.repoTags, ['docker.io/library/app:1']);
    assert.ok((await s.get(b))?.lastTagTime);
    await s.put(record(b, ['app:2']));
    assert.deepEqual((await s.get(b))?.repoTags, [
      'docker.io/library/app:1',
      'docker.io/library/app:2',
    ]);
    assert.equal((await s.untag('app:1'))?.id, b);
    assert.equal(await s.untag('app:1'), undefined);
    assert.equal(await s.lookup('app:1'), undefined);
    await s.delete(b);
    assert.equal(await s.lookup('app:2'), undefined);
    assert.deepEqual(
      (await s.list()).map((r) => r.id),
      [a],
    );
  });

  it('persists atomically: a new store sees every change, and no temp file is left', async () => {
    const s = await store('persist');
    const a = await config(6);
    await s.put({ ...record(a, ['x:1'], [`docker.io/library/x@sha256:${'c'.repeat(64)}`]) });
    await s.tag(a, 'localhost:5000/y/z:2');
    await s.untag('x:1');
    const files = await readdir(join(dir, 'persist'));
    assert.deepEqual(files, [`${a.slice(7)}.json`]);
    const again = await store('persist');
    const r = await again.lookup('localhost:5000/y/z:2');
    assert.equal(r?.id, a);
    assert.deepEqual(r?.repoTags, ['localhost:5000/y/z:2']);
    assert.deepEqual(r?.repoDigests, [`docker.io/library/x@sha256:${'c'.repeat(64)}`]);
  });

  it('ignores corrupt or misnamed records and temp leftovers when loading', async () => {
    const root = join(dir, 'corrupt');
    const s = await store('corrupt');
    const a = await config(7);
    await s.put(record(a, ['ok:1']));
    await writeFile(join(root, `${'d'.repeat(64)}.json`), '{"id": "not a digest"');
    await writeFile(
      join(root, `${'e'.repeat(64)}.json`),
      await readFile(join(root, `${a.slice(7)}.json`)),
    );
    await writeFile(join(root, `${a.slice(7)}.json.1.2.tmp`), 'half');
    const again = await store('corrupt');
    assert.deepEqual(
      (await again.list()).map((r) => r.id),
      [a],
    );
    assert.ok(!(await readdir(root)).some((f) => f.endsWith('.tmp')));
  });

  it('repair() drops records whose config blob is gone', async () => {
    const s = await store('repair');
    const kept = await config(8);
    const lost = await config(9);
    await s.put(record(kept, ['kept:1']));
    await s.put(record(lost, ['lost:1']));
    await content.delete(lost);
    const again = await store('repair');
    assert.deepEqual(
      (await again.list()).map((r) => r.id),
      [kept],
    );
    assert.equal(await again.lookup('lost:1'), undefined);
    assert.deepEqual(await readdir(join(dir, 'repair')), [`${kept.slice(7)}.json`]);
  });

  it("refuses invalid references with Docker's message", async () => {
    const s = await store('invalid');
    const a = await config(10);
    await s.put(record(a));
    await assert.rejects(s.tag(a, 'UPPER:1'), /invalid reference format/);
    await assert.rejects(s.tag(`sha256:${'f'.repeat(64)}`, 'x:1'), /No such image/);
  });
});
