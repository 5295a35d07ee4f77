/**
 * Images leaving and entering berthd through the real docker CLI: push to the loopback
 * registry (and pull back into a fresh daemon), save to a docker archive and load it again.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { runOk, tempDir } from '../testing/process.js';
import { readRegistryImage, type RegistryImage } from '../testing/registry.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('images: push, save and load', { skip: engineTestSkip(), timeout: 300_000 }, () => {
  let env: EngineEnv;
  let busybox: RegistryImage;
  const tmp = tempDir('transfer');

  before(async () => {
    env = await startEngineEnv();
    busybox = await readRegistryImage(env.registry.url, 'busybox', 'latest');
    await env.dockerOk(['pull', env.images.busybox.ref]);
  });
  after(async () => {
    await env?.stop();
    tmp.remove();
  });

  const imageId = async (ref: string) =>
    (await env.dockerOk(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim();

  it('docker push uploads to the registry, a second push finds the layers there, a fresh engine pulls it back', async () => {
    const target = `${env.registry.host}/pushed:v1`;
    await env.dockerOk(['tag', env.images.busybox.ref, target]);
    const first = await env.docker(['push', target]);
    assert.equal(first.code, 0, describeResult(['push', target], first));
    assert.match(
      first.stdout,
      new RegExp(
        `^The push refers to repository \\[${esc(`${env.registry.host}/pushed`)}\\]$`,
        'm',
      ),
    );
    // Push progress is keyed by the short diff ID (uncompressed layer digest).
    for (const diffId of busybox.config.rootfs.diff_ids) {
      assert.match(
        first.stdout,
        new RegExp(`^${short(diffId)}: (Pushed|Mounted from busybox)$`, 'm'),
        first.stdout,
      );
    }
    const m = /^v1: digest: (sha256:[a-f0-9]{64}) size: (\d+)$/m.exec(first.stdout);
    assert.ok(m, first.stdout);
    const [, digest, size] = m;

    const inRegistry = await readRegistryImage(env.registry.url, 'pushed', 'v1');
    assert.equal(inRegistry.digest, digest);
    assert.equal(inRegistry.configDigest, busybox.configDigest);
    assert.deepEqual(inRegistry.config.rootfs.diff_ids, busybox.config.rootfs.diff_ids);
    const raw = await fetch(`${env.registry.url}/v2/pushed/manifests/v1`, {
      headers: {
        accept:
          'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
      },
    });
    assert.equal(String((await raw.arrayBuffer()).byteLength), size);

    const second = await env.dockerOk(['push', target]);
    for (const diffId of busybox.config.rootfs.diff_ids) {
      assert.match(
        second.stdout,
        new RegExp(`^${short(diffId)}: Layer already exists$`, 'm'),
        second.stdout,
      );
    }
    assert.match(second.stdout, new RegExp(`^v1: digest: ${digest} size: ${size}$`, 'm'));

    await env.restart({ fresh: true });
    const pulled = await env.docker(['pull', target]);
    assert.equal(pulled.code, 0, describeResult(['pull', target], pulled));
    assert.match(pulled.stdout, new RegExp(`^Digest: ${digest}$`, 'm'));
    assert.match(
      pulled.stdout,
      new RegExp(`^Status: Downloaded newer image for ${esc(target)}$`, 'm'),
    );
    assert.equal(await imageId(target), busybox.configDigest);
    await env.dockerOk(['pull', env.images.busybox.ref]);
  });

  it('docker push of an unknown image fails', async () => {
    const target = `${env.registry.host}/never:v1`;
    const r = await env.docker(['push', target]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `An image does not exist locally with the tag: ${esc(`${env.registry.host}/never`)}`,
      ),
    );
  });

  it('docker save, rmi, docker load restores the same image ID and tags', async () => {
    const ref = env.images.busybox.ref;
    // Start from an image whose only tag is `ref`, so that untagging it deletes it.
    await env.docker(['rmi', '-f', busybox.configDigest]);
    await env.dockerOk(['pull', ref]);
    const archive = join(tmp.path, 'busybox.tar');
    await env.dockerOk(['save', '-o', archive, ref]);
    assert.ok(existsSync(archive));
    const listing = lines((await runOk('tar', ['-tf', archive])).stdout);
    assert.ok(listing.includes('manifest.json'), listing.join(', '));
    const manifest = JSON.parse(
      (await runOk('tar', ['-xOf', archive, 'manifest.json'])).stdout,
    ) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    assert.deepEqual(manifest[0]?.RepoTags, [ref]);
    assert.equal(manifest[0]?.Layers.length, busybox.config.rootfs.diff_ids.length);

    await env.dockerOk(['rmi', ref]);
    assert.notEqual((await env.docker(['image', 'inspect', busybox.configDigest])).code, 0);

    const loaded = await env.dockerOk(['load', '-i', archive]);
    assert.match(loaded.stdout, new RegExp(`^Loaded image: ${esc(ref)}$`, 'm'));
    assert.equal(await imageId(ref), busybox.configDigest);
    const tags = (await env.dockerOk(['image', 'inspect', '--format', '{{json .RepoTags}}', ref]))
      .stdout;
    assert.deepEqual(JSON.parse(tags), [ref]);
  });

  it('docker load reads an archive from stdin; an ID-only save loads as "Loaded image ID:"', async () => {
    const archive = join(tmp.path, 'by-id.tar');
    await env.dockerOk(['save', '-o', archive, busybox.configDigest]);
    await env.dockerOk(['rmi', '-f', busybox.configDigest]);
    const loaded = await env.dockerOk(['load'], { input: readFileSync(archive) });
    assert.match(loaded.stdout, new RegExp(`^Loaded image ID: ${busybox.configDigest}$`, 'm'));
    const inspect = await env.dockerOk([
      'image',
      'inspect',
      '--format',
      '{{json .RepoTags}}',
      busybox.configDigest,
    ]);
    assert.deepEqual(JSON.parse(inspect.stdout), []);
  });
});
