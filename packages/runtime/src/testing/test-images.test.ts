import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { MediaTypes } from '../images/oci.js';
import { runOk, tempDir } from './process.js';
import { startRegistry, type Registry } from './registry.js';
import {
  BUSYBOX,
  MULTIARCH,
  MULTILAYER,
  pushStandardImages,
  testImageLayout,
} from './test-images.js';
import type { PushedImage } from './test-images.js';
import { skipUnless } from './tools.js';

interface ConfigDoc {
  architecture: string;
  config: {
    Cmd: string[];
    Env: string[];
    WorkingDir: string;
    Labels: Record<string, string>;
    ExposedPorts: Record<string, object>;
  };
}

async function skopeoJson<T>(args: string[], ref: string): Promise<T> {
  const r = await runOk('skopeo', [...args, '--tls-verify=false', `docker://${ref}`]);
  return JSON.parse(r.stdout) as T;
}

const needs = skipUnless(['docker-registry', 'skopeo', 'umoci', '/bin/busybox']);

describe('test images', { skip: needs }, () => {
  let reg: Registry;
  let images: Awaited<ReturnType<typeof pushStandardImages>>;
  before(async () => {
    reg = await startRegistry();
    images = await pushStandardImages(reg.host);
  });
  after(() => reg?.stop());

  /** The Content-Type the registry serves for the pushed tag (checked against its digest). */
  async function contentType(p: PushedImage): Promise<string | null> {
    const accept = [MediaTypes.ociManifest, MediaTypes.ociIndex, MediaTypes.dockerManifest];
    const repo = p.repository.slice(reg.host.length + 1);
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${p.tag}`, {
      headers: { accept: accept.join(', ') },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), p.digest);
    return res.headers.get('content-type');
  }

  // umoci omits the optional `mediaType` field in OCI manifests; the registry still serves
  // the right Content-Type, which is what a client must go by.
  it('pushes busybox as a one-layer OCI image with the documented config', async () => {
    assert.equal(await contentType(images.busybox), MediaTypes.ociManifest);
    const m = await skopeoJson<{ layers: unknown[] }>(['inspect', '--raw'], images.busybox.ref);
    assert.equal(m.layers.length, 1);
    const c = await skopeoJson<ConfigDoc>(['inspect', '--config'], images.busybox.ref);
    assert.equal(c.architecture, BUSYBOX.architecture);
    assert.deepEqual(c.config.Cmd, BUSYBOX.cmd);
    assert.deepEqual(c.config.Env, BUSYBOX.env);
    assert.equal(c.config.WorkingDir, BUSYBOX.workingDir);
    assert.deepEqual(c.config.Labels, BUSYBOX.labels);
    assert.deepEqual(Object.keys(c.config.ExposedPorts), BUSYBOX.exposedPorts);
  });

  it('pushes a Docker schema2 variant', async () => {
    assert.equal(await contentType(images.busyboxV2s2), MediaTypes.dockerManifest);
    const m = await skopeoJson<{ layers: { mediaType: string }[] }>(
      ['inspect', '--raw'],
      images.busyboxV2s2.ref,
    );
    assert.equal(m.layers[0]?.mediaType, MediaTypes.dockerLayerGzip);
  });

  it('pushes multilayer with three layers', async () => {
    const m = await skopeoJson<{ layers: unknown[] }>(['inspect', '--raw'], images.multilayer.ref);
    assert.equal(m.layers.length, MULTILAYER.layers);
  });

  it('pushes multiarch as an index of amd64 and arm64', async () => {
    assert.equal(await contentType(images.multiarch), MediaTypes.ociIndex);
    const idx = await skopeoJson<{
      manifests: { platform: { os: string; architecture: string } }[];
    }>(['inspect', '--raw'], images.multiarch.ref);
    assert.deepEqual(
      idx.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      MULTIARCH.platforms,
    );
    const arm = await skopeoJson<ConfigDoc>(
      ['--override-arch', 'arm64', 'inspect', '--config'],
      images.multiarch.ref,
    );
    assert.equal(arm.architecture, 'arm64');
    assert.equal(arm.config.Labels[MULTIARCH.archLabel], 'arm64');
  });

  it('unpacks multilayer to the documented tree (whiteout and opaque dir applied)', async () => {
    const { layout, tag } = await testImageLayout('multilayer');
    const dir = tempDir('unpack');
    try {
      await runOk('umoci', ['unpack', '--image', `${layout}:${tag}`, `${dir.path}/b`]);
      for (const [p, content] of Object.entries(MULTILAYER.present)) {
        assert.equal(readFileSync(`${dir.path}/b/rootfs${p}`, 'utf8'), content);
      }
      for (const p of MULTILAYER.absent) assert.ok(!existsSync(`${dir.path}/b/rootfs${p}`), p);
    } finally {
      dir.remove();
    }
  });
});
