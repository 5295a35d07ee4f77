import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FsContentStore } from './content-store.js';
import { type Digest, sha256Digest } from './oci.js';

const blob = (s: string) => ({
  data: Buffer.from(s),
  digest: sha256Digest(s),
  size: Buffer.byteLength(s),
});
const ingestEntries = (root: string) => readdir(join(root, 'ingest'));

describe('FsContentStore', () => {
  let root: string;
  let store: FsContentStore;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-content-'));
    store = new FsContentStore(root);
    await store.repair();
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('ingests a verified blob and serves it back', async () => {
    const b = blob('hello content');
    const progress: number[] = [];
    const info = await store.ingest(
      b,
      () => Promise.resolve(Readable.from([b.data])),
      (w) => progress.push(w),
    );
    assert.deepEqual(info, { digest: b.digest, size: b.size });
    assert.deepEqual(await store.stat(b.digest), info);
    assert.equal((await store.read(b.digest)).toString(), 'hello content');
    const chunks: Buffer[] = [];
    for await (const c of await store.createReadStream(b.digest)) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'hello content');
    assert.deepEqual(progress, [b.size]);
    assert.ok((await store.list()).some((x) => x.digest === b.digest));
    assert.deepEqual(await ingestEntries(root), []);
  });

  it('does not open the source for a blob it already has', async () => {
    const b = blob('already');
    await store.put(b.data);
    await store.ingest(b, () => Promise.reject(new Error('must not be opened')));
  });

  it('refuses a digest mismatch and keeps nothing', async () => {
    const b = blob('expected bytes');
    await assert.rejects(
      store.ingest(b, () => Promise.resolve(Readable.from([Buffer.from('tampered bytes')]))),
      /unexpected commit digest/,
    );
    assert.equal(await store.stat(b.digest), undefined);
    assert.deepEqual(await ingestEntries(root), []);
  });

  it('refuses a short source', async () => {
    const b = blob('twelve bytes');
    await assert.rejects(
      store.ingest(b, () => Promise.resolve(Readable.from([Buffer.from('twelve')]))),
      /unexpected commit size 6, expected 12/,
    );
    assert.equal(await store.stat(b.digest), undefined);
  });

  it('stops reading a source that sends too much', async () => {
    const b = blob('small');
    let produced = 0;
    let destroyed = false;
    const endless = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024));
      },
      destroy(err, cb) {
        destroyed = true;
        cb(err);
      },
    });
    await assert.rejects(
      store.ingest(b, () => Promise.resolve(endless)),
      /unexpected commit size/,
    );
    assert.ok(destroyed, 'source destroyed');
    assert.ok(produced < 64 * 1024, `read ${produced} bytes`);
    assert.deepEqual(await ingestEntries(root), []);
  });

  it('shares one ingest between concurrent callers (single-flight)', async () => {
    const b = blob('x'.repeat(100_000));
    let opens = 0;
    const open = () => {
      opens++;
      // Slow source: many small chunks, so the callers really overlap.
      const chunks = Array.from({ length: 100 }, (_, i) =>
        b.data.subarray(i * 1000, (i + 1) * 1000),
      );
      return Promise.resolve(Readable.from(chunks));
    };
    const seen = [0, 0, 0];
    const results = await Promise.all(
      [0, 1, 2].map((i) => store.ingest(b, open, (w) => (seen[i] = w))),
    );
    assert.equal(opens, 1);
    for (const r of results) assert.equal(r.digest, b.digest);
    assert.equal(seen[0], b.size);
  });

  it('never turns a malformed digest into a path (CVE-2021-21285 class)', async () => {
    const evil = '../../../etc/passwd' as Digest;
    assert.equal(await store.stat(evil), undefined);
    assert.equal(await store.stat('sha256:ABC'), undefined);
    await assert.rejects(store.read(evil), { name: 'InvalidParameterError' });
    await assert.rejects(store.createReadStream(evil), { name: 'InvalidParameterError' });
    await assert.rejects(store.delete(evil), { name: 'InvalidParameterError' });
    await assert.rejects(
      store.ingest({ digest: evil, size: 1 }, () => Promise.resolve(Readable.from(['x']))),
      { name: 'InvalidParameterError' },
    );
    await assert.rejects(store.read(sha256Digest('absent')), { name: 'NotFoundError' });
  });

  it('deletes blobs and clears interrupted ingests on repair', async () => {
    const b = blob('to delete');
    await store.put(b.data);
    await store.delete(b.digest);
    assert.equal(await store.stat(b.digest), undefined);
    await writeFile(join(root, 'ingest', 'leftover'), 'partial');
    await store.repair();
    assert.deepEqual(await ingestEntries(root), []);
  });
});
