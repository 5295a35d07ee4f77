import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { runOk } from '../testing/process.js';
import { testImageLayout } from '../testing/test-images.js';
import { skipUnless } from '../testing/tools.js';
import { loadArchive, resolveSaveNames, saveArchive } from './archive.js';
import { chainIds, imageConfigSchema, sha256Digest } from './oci.js';
import { tempStores, type TestStores } from './test-stores.js';

const deps = (s: TestStores) => ({
  content: s.content,
  snapshots: s.snapshotter,
  images: s.imageStore,
});

/** Reads a tar into name → bytes. */
async function untar(data: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([data]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
    out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

async function makeTar(files: [string, Buffer][]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function isEmpty(s: TestStores): Promise<void> {
  assert.deepEqual(await s.imageStore.list(), []);
  assert.deepEqual(await s.content.list(), []);
  assert.deepEqual(await s.snapshotter.list(), []);
}

describe(
  'docker save / load archives',
  { skip: skipUnless(['root', 'skopeo', 'umoci', '/bin/busybox']) },
  () => {
    let dir: string;
    let dockerArchive: Buffer;
    let ociArchive: Buffer;
    const stores: TestStores[] = [];
    const fresh = async () => {
      const s = await tempStores();
      stores.push(s);
      return s;
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'berth-archive-'));
      const { layout } = await testImageLayout('multilayer');
      await testImageLayout('busybox');
      const dockerFile = join(dir, 'docker.tar');
      const ociFile = join(dir, 'oci.tar');
      await runOk('skopeo', [
        '--insecure-policy',
        'copy',
        '--quiet',
        `oci:${layout}:multilayer`,
        `docker-archive:${dockerFile}:example.com/ml:v1`,
      ]);
      await runOk('skopeo', [
        '--insecure-policy',
        'copy',
        '--quiet',
        `oci:${layout}:busybox`,
        `oci-archive:${ociFile}:busybox`,
      ]);
      dockerArchive = await readFile(dockerFile);
      ociArchive = await readFile(ociFile);
    });
    after(async () => {
      for (const s of stores) await s.remove();
      await rm(dir, { recursive: true, force: true });
    });

    it('loads a docker-archive made by skopeo: blobs, snapshots, tag', async () => {
      const s = await fresh();
      const r = await loadArchive(deps(s), Readable.from([dockerArchive]), join(dir, 'tmp'));
      assert.deepEqual(r.messages, ['Loaded image: example.com/ml:v1\n']);
      const [image] = r.images;
      assert.ok(image);
      const record = await s.imageStore.lookup('example.com/ml:v1');
      assert.equal(record?.id, image.id);
      assert.ok(record?.manifest, 'a manifest is recorded so the image can be pushed');
      const config = imageConfigSchema.parse(
        JSON.parse((await s.content.read(image.id)).toString()),
      );
      for (const chain of chainIds(config.rootfs.diff_ids)) {
        assert.ok(await s.snapshotter.stat(chain), chain);
      }
      const [top] = await s.snapshotter.lowerDirs(chainIds(config.rootfs.diff_ids).at(-1) ?? '');
      assert.equal(await readFile(join(top ?? '', 'etc/layer3'), 'utf8'), 'layer 3\n');
    });

    it('loads an OCI-layout archive without manifest.json: no name means "Loaded image ID"', async () => {
      const s = await fresh();
      const r = await loadArchive(deps(s), Readable.from([ociArchive]), join(dir, 'tmp'));
      const [image] = r.images;
      assert.ok(image);
      // skopeo's oci-archive names the image "busybox" in ref.name: a tag alone, not a reference.
      assert.deepEqual(r.messages, [`Loaded image ID: ${image.id}\n`]);
      assert.ok(await s.imageStore.get(image.id));
    });

    it('save → load round trip into a fresh store; the archive is readable by skopeo both ways', async () => {
      const src = await fresh();
      await loadArchive(deps(src), Readable.from([dockerArchive]), join(dir, 'tmp'));
      const id = (await src.imageStore.lookup('example.com/ml:v1'))?.id;
      assert.ok(id);
      await src.imageStore.tag(id, 'example.com/ml:v2');
      const entries = await resolveSaveNames(src.imageStore, ['example.com/ml']);
      assert.deepEqual(
        entries.map((e) => e.repoTags.sort()),
        [['example.com/ml:v1', 'example.com/ml:v2']],
      );

      const saved = join(dir, 'saved.tar');
      await pipeline(
        (await saveArchive(deps(src), entries)) as unknown as Readable,
        createWriteStream(saved),
      );
      const files = await untar(await readFile(saved));
      assert.ok(files.has('oci-layout') && files.has('index.json') && files.has('manifest.json'));
      const manifest = JSON.parse(files.get('manifest.json')?.toString() ?? '') as {
        Config: string;
        RepoTags: string[];
        Layers: string[];
      }[];
      assert.equal(manifest[0]?.Config, `blobs/sha256/${id.slice(7)}`);
      assert.deepEqual(manifest[0]?.RepoTags.sort(), ['example.com/ml:v1', 'example.com/ml:v2']);
      for (const [name, data] of files) {
        const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
        if (m) assert.equal(sha256Digest(data), `sha256:${m[1]}`, name);
      }
      await runOk('skopeo', ['inspect', `docker-archive:${saved}`]);
      // Docker's annotations: ref.name is the tag, as OCI tools look it up.
      const oci = await runOk('skopeo', ['inspect', '--config', `oci-archive:${saved}:v2`]);
      assert.equal(imageConfigSchema.parse(JSON.parse(oci.stdout)).rootfs.diff_ids.length, 3);

      const dst = await fresh();
      const r = await loadArchive(deps(dst), createReadStream(saved), join(dir, 'tmp'));
      assert.deepEqual(r.messages.sort(), [
        'Loaded image: example.com/ml:v1\n',
        'Loaded image: example.com/ml:v2\n',
      ]);
      const loaded = await dst.imageStore.lookup('example.com/ml:v2');
      assert.equal(loaded?.id, id);
      assert.equal(loaded?.manifest?.digest, (await src.imageStore.get(id))?.manifest?.digest);
    });

    it('save refuses before streaming when a blob is missing', async () => {
      const s = await fresh();
      const [image] = (await loadArchive(deps(s), Readable.from([ociArchive]), join(dir, 'tmp')))
        .images;
      assert.ok(image);
      const record = await s.imageStore.get(image.id);
      assert.ok(record?.manifest);
      const manifest = JSON.parse((await s.content.read(record.manifest.digest)).toString()) as {
        layers: { digest: `sha256:${string}` }[];
      };
      const layer = manifest.layers[0]?.digest;
      assert.ok(layer);
      await s.content.delete(layer);
      const entries = await resolveSaveNames(s.imageStore, [image.id]);
      await assert.rejects(saveArchive(deps(s), entries), /content digest .* not found/);
    });

    it('loading over an existing tag moves it and says so', async () => {
      const s = await fresh();
      await loadArchive(deps(s), Readable.from([ociArchive]), join(dir, 'tmp'));
      const old = (await s.imageStore.list())[0];
      assert.ok(old);
      await s.imageStore.tag(old.id, 'example.com/ml:v1');
      const r = await loadArchive(deps(s), Readable.from([dockerArchive]), join(dir, 'tmp'));
      assert.deepEqual(r.messages, [
        `The image example.com/ml:v1 already exists, renaming the old one with ID ${old.id} to empty string\n`,
        'Loaded image: example.com/ml:v1\n',
      ]);
      assert.deepEqual((await s.imageStore.get(old.id))?.repoTags, []);
    });

    it('refuses path traversal and absolute paths, writing nothing', async () => {
      const files = await untar(dockerArchive);
      for (const evil of ['../evil', 'a/../../evil', '/etc/evil']) {
        const s = await fresh();
        const bad = await makeTar([[evil, Buffer.from('x')], ...files]);
        await assert.rejects(
          loadArchive(deps(s), Readable.from([bad]), join(dir, 'tmp')),
          /invalid archive: unsafe path/,
        );
        await isEmpty(s);
      }
    });

    it('refuses a blob whose content does not match its digest name, writing nothing', async () => {
      const files = await untar(ociArchive);
      const [name] = [...files.keys()]
        .filter((n) => n.startsWith('blobs/sha256/'))
        .sort((a, b) => (files.get(b)?.length ?? 0) - (files.get(a)?.length ?? 0));
      assert.ok(name);
      const tampered = [...files].map(([n, d]): [string, Buffer] => [
        n,
        n === name ? Buffer.concat([d, Buffer.from('x')]) : d,
      ]);
      const s = await fresh();
      await assert.rejects(
        loadArchive(deps(s), Readable.from([await makeTar(tampered)]), join(dir, 'tmp')),
        /invalid archive: digest mismatch/,
      );
      await isEmpty(s);
    });

    it('refuses a layer whose content does not match the config diff_id, writing nothing', async () => {
      const files = await untar(dockerArchive);
      const manifest = JSON.parse(files.get('manifest.json')?.toString() ?? '') as {
        Layers: string[];
      }[];
      const layerName = manifest[0]?.Layers[1] ?? '';
      const other = files.get(manifest[0]?.Layers[0] ?? '') ?? Buffer.alloc(0);
      // A valid tar, but not the one the config names; its file name carries no digest.
      const swapped = [...files].map(([n, d]): [string, Buffer] => [
        n,
        n === layerName ? other : d,
      ]);
      const renamed = swapped.map(([n, d]): [string, Buffer] => [
        n === layerName ? 'layer.tar' : n,
        d,
      ]);
      const fixedManifest = JSON.stringify(
        manifest.map((m) => ({
          ...m,
          Layers: m.Layers.map((l) => (l === layerName ? 'layer.tar' : l)),
        })),
      );
      const bad = renamed.map(([n, d]): [string, Buffer] => [
        n,
        n === 'manifest.json' ? Buffer.from(fixedManifest) : d,
      ]);
      const s = await fresh();
      await assert.rejects(
        loadArchive(deps(s), Readable.from([await makeTar(bad)]), join(dir, 'tmp')),
        /invalid archive: invalid diffID for layer 1/,
      );
      await isEmpty(s);
    });

    it('refuses oversized documents and archives without manifests', async () => {
      const s = await fresh();
      await assert.rejects(
        loadArchive(
          deps(s),
          Readable.from([await makeTar([['hello.txt', Buffer.from('hi')]])]),
          join(dir, 'tmp'),
        ),
        /neither manifest.json nor index.json/,
      );
      const big = await makeTar([['manifest.json', Buffer.alloc(2048, 0x20)]]);
      await assert.rejects(
        loadArchive(deps(s), Readable.from([big]), join(dir, 'tmp'), {
          maxEntries: 10,
          maxTotalBytes: 1 << 20,
          maxDocumentBytes: 1024,
        }),
        /manifest.json is too large/,
      );
      await isEmpty(s);
    });
  },
);
