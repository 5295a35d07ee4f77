import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type Registry } from '../testing/registry.js';
import { type PushedImage, pushStandardImages } from '../testing/test-images.js';
import { skipUnless } from '../testing/tools.js';
import { type Digest, imageConfigSchema, manifestSchema } from './oci.js';
import { parsePlatform } from './platform.js';
import type { ProgressMessage } from './progress.js';
import { pullImage, type PullOptions } from './pull.js';
import { startRegistryProxy } from './registry/test-proxy.js';
import { type TestStores, tempStores } from './test-stores.js';

type Images = Awaited<ReturnType<typeof pushStandardImages>>;

function registryBlobPath(reg: Registry, digest: Digest): string {
  const hex = digest.slice('sha256:'.length);
  return join(reg.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

async function pull(stores: TestStores, ref: string, extra: Partial<PullOptions> = {}) {
  const messages: ProgressMessage[] = [];
  const result = await pullImage({
    ref,
    content: stores.content,
    snapshotter: stores.snapshotter,
    imageStore: stores.imageStore,
    onProgress: (m) => messages.push(m),
    ...extra,
  });
  return { result, messages };
}

/** Status lines of one progress id, with runs of the same status collapsed. */
function statusesOf(messages: ProgressMessage[], id: string): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (m.id === id && m.status !== undefined && out.at(-1) !== m.status) out.push(m.status);
  }
  return out;
}

async function configOf(stores: TestStores, id: Digest) {
  return imageConfigSchema.parse(JSON.parse((await stores.content.read(id)).toString()));
}

describe('pullImage', { skip: skipUnless(['docker-registry', 'skopeo', 'umoci']) }, () => {
  let reg: Registry;
  let images: Images;
  let stores: TestStores;
  before(async () => {
    reg = await startRegistry();
    images = await pushStandardImages(reg.host);
    stores = await tempStores();
  });
  after(async () => {
    await stores.remove();
    await reg.stop();
  });

  it('pulls by tag with Docker progress messages, then reports up to date', async () => {
    const { result, messages } = await pull(stores, images.busybox.ref);
    const manifest = manifestSchema.parse(
      JSON.parse((await stores.content.read(images.busybox.digest)).toString()),
    );
    const layerId = manifest.layers[0]?.digest.slice(7, 19) ?? '';
    assert.deepEqual(messages[0], { status: 'Pulling from busybox', id: 'latest' });
    assert.deepEqual(statusesOf(messages, layerId), [
      'Pulling fs layer',
      'Downloading',
      'Verifying Checksum',
      'Download complete',
      'Extracting',
      'Pull complete',
    ]);
    const downloading = messages.filter((m) => m.id === layerId && m.status === 'Downloading');
    assert.deepEqual(downloading.at(-1)?.progressDetail, {
      current: manifest.layers[0]?.size,
      total: manifest.layers[0]?.size,
    });
    assert.match(downloading.at(-1)?.progress ?? '', /^\[=+>\]/);
    assert.deepEqual(messages.slice(-2), [
      { status: `Digest: ${images.busybox.digest}` },
      { status: `Status: Downloaded newer image for ${images.busybox.ref}` },
    ]);
    assert.equal(result.record.id, manifest.config.digest);
    assert.deepEqual(result.record.repoTags, [images.busybox.ref]);
    assert.deepEqual(result.record.repoDigests, [
      `${images.busybox.repository}@${images.busybox.digest}`,
    ]);
    assert.equal(result.record.manifest?.digest, images.busybox.digest);
    assert.equal((await stores.snapshotter.list()).length, 1);

    const again = await pull(stores, images.busybox.ref);
    assert.deepEqual(statusesOf(again.messages, layerId), ['Already exists']);
    assert.deepEqual(again.messages.at(-1), {
      status: `Status: Image is up to date for ${images.busybox.ref}`,
    });
    assert.equal(again.result.downloaded, false);
  });

  it('pulls by digest and a Docker schema2 image', async () => {
    const byDigest = `${images.multilayer.repository}@${images.multilayer.digest}`;
    const { result, messages } = await pull(stores, byDigest);
    assert.deepEqual(messages[0], {
      status: 'Pulling from multilayer',
      id: images.multilayer.digest,
    });
    assert.deepEqual(result.record.repoTags, []);
    assert.deepEqual(result.record.repoDigests, [byDigest]);
    assert.equal((await configOf(stores, result.record.id)).rootfs.diff_ids.length, 3);

    const v2 = await pull(stores, images.busyboxV2s2.ref);
    assert.equal(
      v2.result.record.manifest?.mediaType,
      'application/vnd.docker.distribution.manifest.v2+json',
    );
  });

  it('selects the platform from an index', async () => {
    const arm = await pull(stores, images.multiarch.ref, {
      platform: parsePlatform('linux/arm64'),
    });
    assert.equal((await configOf(stores, arm.result.record.id)).architecture, 'arm64');
    assert.equal(arm.result.record.indexDigest, images.multiarch.digest);
    assert.deepEqual(arm.result.record.repoDigests, [
      `${images.multiarch.repository}@${images.multiarch.digest}`,
    ]);
    assert.ok(arm.messages.some((m) => m.status === `Digest: ${images.multiarch.digest}`));

    const amd = await pull(stores, images.multiarch.ref, {
      platform: parsePlatform('linux/amd64'),
    });
    assert.equal((await configOf(stores, amd.result.record.id)).architecture, 'amd64');
    assert.notEqual(amd.result.record.id, arm.result.record.id);

    await assert.rejects(
      pull(stores, images.multiarch.ref, { platform: parsePlatform('linux/ppc64le') }),
      {
        name: 'NotFoundError',
        message: 'no matching manifest for linux/ppc64le in the manifest list entries',
      },
    );
  });

  it('reports an unknown tag in Docker words', async () => {
    await assert.rejects(pull(stores, `${reg.host}/busybox:nope`), {
      name: 'NotFoundError',
      statusCode: 404,
      message: `manifest for ${reg.host}/busybox:nope not found: manifest unknown: manifest unknown`,
    });
  });

  it('refuses a layer whose bytes do not match its digest and keeps nothing', async () => {
    const fresh = await tempStores();
    const manifest = manifestSchema.parse(
      JSON.parse((await stores.content.read(images.multilayer.digest)).toString()),
    );
    const layer = manifest.layers[1];
    assert.ok(layer);
    const file = registryBlobPath(reg, layer.digest);
    const original = await readFile(file);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 0xff;
    await writeFile(file, tampered);
    try {
      await assert.rejects(pull(fresh, images.multilayer.ref), /unexpected commit digest/);
      assert.equal(await fresh.content.stat(layer.digest), undefined);
      assert.equal(await fresh.imageStore.lookup(images.multilayer.ref), undefined);
    } finally {
      await writeFile(file, original);
      await fresh.remove();
    }
  });

  it('fetches each blob once for two concurrent pulls of one image', async () => {
    const proxy = await startRegistryProxy(reg.url);
    const fresh = await tempStores();
    try {
      const ref = images.multilayer.ref.replace(reg.host, proxy.host);
      const [a, b] = await Promise.all([pull(fresh, ref), pull(fresh, ref)]);
      assert.equal(a.result.record.id, b.result.record.id);
      const blobGets = proxy.requests.filter(
        (r) => r.method === 'GET' && r.path.includes('/blobs/'),
      );
      const perBlob = new Map<string, number>();
      for (const r of blobGets) perBlob.set(r.path, (perBlob.get(r.path) ?? 0) + 1);
      assert.equal(perBlob.size, 4, 'config + 3 layers');
      assert.deepEqual([...new Set(perBlob.values())], [1]);
      assert.equal((await fresh.snapshotter.list()).length, 3);
    } finally {
      await fresh.remove();
      await proxy.stop();
    }
  });

  it('pulls through Bearer token auth with credentials from X-Registry-Auth', async () => {
    const proxy = await startRegistryProxy(reg.url, {
      bearer: { username: 'bob', password: 'pw' },
    });
    const fresh = await tempStores();
    try {
      const ref = (img: PushedImage) => img.ref.replace(reg.host, proxy.host);
      await assert.rejects(pull(fresh, ref(images.busybox)), { statusCode: 401 });
      const { result } = await pull(fresh, ref(images.busybox), {
        auth: { username: 'bob', password: 'pw' },
      });
      assert.deepEqual(result.record.repoTags, [ref(images.busybox)]);
      assert.deepEqual(proxy.tokenScopes, [['repository:busybox:pull']]);
    } finally {
      await fresh.remove();
      await proxy.stop();
    }
  });
});
