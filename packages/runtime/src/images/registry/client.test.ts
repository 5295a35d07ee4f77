import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startRegistry, type Registry } from '../../testing/registry.js';
import { skipUnless } from '../../testing/tools.js';
import { type Digest, MediaTypes, sha256Digest } from '../oci.js';
import { RegistryClient } from './client.js';
import { startRegistryProxy } from './test-proxy.js';

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const blobOf = (data: Buffer) => ({ digest: sha256Digest(data), size: data.length });
const open = (data: Buffer) => () => Promise.resolve(Readable.from([data]));

/** Pushes a tiny image (one fake layer) with the client under test; returns its pieces. */
async function pushSmallImage(client: RegistryClient, path: string, tag: string, seed: string) {
  const layer = Buffer.from(`layer bytes ${seed}`);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] },
    }),
  );
  await client.pushBlob(path, blobOf(layer), open(layer));
  await client.pushBlob(path, blobOf(config), open(config));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, ...blobOf(config) },
      layers: [{ mediaType: MediaTypes.ociLayer, ...blobOf(layer) }],
    }),
  );
  const digest = await client.putManifest(path, tag, MediaTypes.ociManifest, manifest);
  return { layer, config, manifest, digest };
}

function registryBlobPath(reg: Registry, digest: Digest): string {
  const hex = digest.slice('sha256:'.length);
  return join(reg.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

describe('RegistryClient', () => {
  it('selects https for a non-loopback registry (no traffic)', () => {
    assert.equal(new RegistryClient('docker.io').baseUrl, 'https://registry-1.docker.io');
    assert.equal(new RegistryClient('example.com:5000').baseUrl, 'https://example.com:5000');
    assert.equal(
      new RegistryClient('example.com:5000', { insecureRegistries: ['example.com:5000'] }).baseUrl,
      'http://example.com:5000',
    );
    assert.equal(new RegistryClient('localhost:5000').baseUrl, 'http://localhost:5000');
  });
});

describe(
  'RegistryClient against docker-registry',
  { skip: skipUnless(['docker-registry']) },
  () => {
    let reg: Registry;
    before(async () => {
      reg = await startRegistry();
    });
    after(() => reg.stop());

    it('pushes blobs and a manifest, then reads them back by tag and digest', async () => {
      const client = new RegistryClient(reg.host);
      const img = await pushSmallImage(client, 'small/one', 'v1', 'one');
      const byTag = await client.getManifest('small/one', 'v1');
      assert.equal(byTag.digest, img.digest);
      assert.equal(byTag.mediaType, MediaTypes.ociManifest);
      assert.deepEqual(byTag.bytes, img.manifest);
      const byDigest = await client.getManifest('small/one', img.digest);
      assert.deepEqual(byDigest.bytes, img.manifest);
      assert.equal((await client.headManifest('small/one', 'v1'))?.digest, img.digest);
      assert.equal(await client.headManifest('small/one', 'nope'), undefined);
      assert.deepEqual(
        await readAll(await client.getBlob('small/one', sha256Digest(img.layer))),
        img.layer,
      );
      assert.ok(await client.blobExists('small/one', sha256Digest(img.config)));
      assert.ok(!(await client.blobExists('small/one', sha256Digest('absent'))));
    });

    it('mounts a blob from another repository, and uploads when the mount is refused', async () => {
      const client = new RegistryClient(reg.host);
      const img = await pushSmallImage(client, 'small/src', 'v1', 'mount');
      const layer = blobOf(img.layer);
      const mounted = await client.pushBlob(
        'small/dst',
        layer,
        () => Promise.reject(new Error('no upload')),
        {
          from: 'small/src',
        },
      );
      assert.equal(mounted, 'mounted');
      assert.ok(await client.blobExists('small/dst', layer.digest));
      const other = Buffer.from('not in the source repository');
      const sent: number[] = [];
      const how = await client.pushBlob('small/dst', blobOf(other), open(other), {
        from: 'small/src',
        onProgress: (n) => sent.push(n),
      });
      assert.equal(how, 'uploaded');
      assert.equal(sent.at(-1), other.length);
    });

    it('maps registry errors to Docker texts', async () => {
      const client = new RegistryClient(reg.host);
      await assert.rejects(client.getManifest('small/none', 'nope'), (e: Error) => {
        assert.equal(e.name, 'RegistryNotFoundError');
        assert.equal((e as { statusCode?: number }).statusCode, 404);
        assert.match(e.message, /^(manifest unknown|name unknown): /);
        return true;
      });
      await pushSmallImage(client, 'small/two', 'v1', 'two');
      await assert.rejects(client.getManifest('small/two', 'nope'), {
        message: 'manifest unknown: manifest unknown',
        code: 'MANIFEST_UNKNOWN',
      });
    });

    it('refuses manifest bytes that do not match the requested digest', async () => {
      const client = new RegistryClient(reg.host);
      const img = await pushSmallImage(client, 'small/tamper', 'v1', 'tamper');
      const file = registryBlobPath(reg, img.digest);
      const original = await readFile(file);
      await writeFile(file, original.toString().replace('"schemaVersion":2', '"schemaVersion":2 '));
      try {
        await assert.rejects(
          client.getManifest('small/tamper', img.digest),
          /manifest verification failed/,
        );
      } finally {
        await writeFile(file, original);
      }
    });

    it('follows blob redirects without sending credentials along', async () => {
      const proxy = await startRegistryProxy(reg.url, { bearer: {}, redirectBlobs: true });
      try {
        const client = new RegistryClient(proxy.host);
        const img = await pushSmallImage(client, 'redirect/app', 'v1', 'redirect');
        const got = await readAll(await client.getBlob('redirect/app', sha256Digest(img.layer)));
        assert.deepEqual(got, img.layer);
        const blobGets = proxy.requests.filter(
          (r) => r.method === 'GET' && r.path.includes('/blobs/'),
        );
        assert.equal(blobGets.length, 1, 'one request to the proxy, then the redirect target');
        assert.match(blobGets[0]?.authorization ?? '', /^Bearer /);
      } finally {
        await proxy.stop();
      }
    });

    it('authenticates with Bearer tokens from the challenge realm, cached per scope', async () => {
      const proxy = await startRegistryProxy(reg.url, {
        bearer: { username: 'alice', password: 'pw', field: 'access_token' },
      });
      try {
        const client = new RegistryClient(proxy.host, {
          auth: { username: 'alice', password: 'pw' },
        });
        const img = await pushSmallImage(client, 'auth/app', 'v1', 'auth');
        assert.equal((await client.getManifest('auth/app', 'v1')).digest, img.digest);
        assert.equal((await client.getManifest('auth/app', img.digest)).digest, img.digest);
        assert.deepEqual(proxy.tokenScopes, [
          ['repository:auth/app:pull,push'],
          ['repository:auth/app:pull'],
        ]);
        const tokenRequest = proxy.requests.find((r) => r.path.startsWith('/token'));
        assert.equal(
          tokenRequest?.authorization,
          `Basic ${Buffer.from('alice:pw').toString('base64')}`,
        );

        const anonymous = new RegistryClient(proxy.host);
        await assert.rejects(anonymous.getManifest('auth/app', 'v1'), {
          name: 'UnauthorizedError',
          statusCode: 401,
          message: /unauthorized: authentication required/,
        });
        const wrong = new RegistryClient(proxy.host, {
          auth: { username: 'alice', password: 'bad' },
        });
        await assert.rejects(wrong.getManifest('auth/app', 'v1'), { statusCode: 401 });
      } finally {
        await proxy.stop();
      }
    });
  },
);
