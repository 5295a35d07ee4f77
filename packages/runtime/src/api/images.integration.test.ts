/**
 * Image commands of the real docker CLI against berthd, with images pulled from a loopback
 * registry. Expected outputs are Docker's (moby's classic image store, CLI 20.10+): progress
 * lines keyed by the 12-hex short layer digest, "Digest:"/"Status:" trailers, moby's error
 * texts. The tests run in order and build on each other's pulls, like a user session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { readRegistryImage, type RegistryImage } from '../testing/registry.js';
import { BUSYBOX, MULTIARCH, MULTILAYER, pushTestImage } from '../testing/test-images.js';
import type { DockerResult } from '../testing/docker-cli.js';

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface InspectedImage {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string;
  Architecture: string;
  Os: string;
  Size: number;
  Config: {
    Cmd: string[] | null;
    Env: string[] | null;
    WorkingDir: string;
    Labels: Record<string, string> | null;
    ExposedPorts?: Record<string, object> | null;
  };
  RootFS: { Type: string; Layers: string[] };
}

/** Asserts the non-TTY progress output of a successful `docker pull` that fetched layers. */
function assertPulled(
  r: DockerResult,
  o: { ref: string; tagOrDigest: string; repoPath: string; digest: string; fetched: string[] },
) {
  const why = describeResult(['pull', o.ref], r);
  assert.equal(r.code, 0, why);
  assert.match(
    r.stdout,
    new RegExp(`^${esc(o.tagOrDigest)}: Pulling from ${esc(o.repoPath)}$`, 'm'),
    why,
  );
  for (const layer of o.fetched) {
    assert.match(r.stdout, new RegExp(`^${short(layer)}: Pulling fs layer$`, 'm'), why);
    assert.match(r.stdout, new RegExp(`^${short(layer)}: Pull complete$`, 'm'), why);
  }
  assert.match(r.stdout, new RegExp(`^Digest: ${o.digest}$`, 'm'), why);
  assert.match(
    r.stdout,
    new RegExp(`^Status: Downloaded newer image for ${esc(o.ref)}$`, 'm'),
    why,
  );
  assert.equal(lines(r.stdout).at(-1), o.ref, why);
}

describe('images: docker CLI against berthd', { skip: engineTestSkip(), timeout: 300_000 }, () => {
  let env: EngineEnv;
  let reg: string;
  let busybox: RegistryImage;
  let busyboxV2s2: RegistryImage;
  let multilayer: RegistryImage;
  let multiarchAmd64: RegistryImage;
  let multiarchArm64: RegistryImage;

  before(async () => {
    env = await startEngineEnv();
    reg = env.registry.host;
    const read = (repo: string, ref = 'latest', a?: string) =>
      readRegistryImage(env.registry.url, repo, ref, a);
    [busybox, busyboxV2s2, multilayer, multiarchAmd64, multiarchArm64] = await Promise.all([
      read('busybox'),
      read('busybox-v2s2'),
      read('multilayer'),
      read('multiarch', 'latest', 'amd64'),
      read('multiarch', 'latest', 'arm64'),
    ]);
  });
  after(() => env?.stop());

  const inspect = async (ref: string): Promise<InspectedImage> => {
    const r = await env.dockerOk(['image', 'inspect', ref]);
    const arr = JSON.parse(r.stdout) as InspectedImage[];
    assert.equal(arr.length, 1);
    return arr[0] as InspectedImage;
  };

  it('docker pull by tag prints per-layer progress, Digest and Status; a re-pull is up to date', async () => {
    const ref = env.images.busybox.ref;
    const r = await env.docker(['pull', ref]);
    assertPulled(r, {
      ref,
      tagOrDigest: 'latest',
      repoPath: 'busybox',
      digest: env.images.busybox.digest,
      fetched: busybox.manifest.layers.map((l) => l.digest),
    });
    const again = await env.dockerOk(['pull', ref]);
    assert.match(again.stdout, new RegExp(`^Status: Image is up to date for ${esc(ref)}$`, 'm'));
    assert.doesNotMatch(again.stdout, /Pull complete/);
  });

  it('docker pull of a Docker schema2 image reuses the layer and yields the same image ID', async () => {
    const ref = env.images.busyboxV2s2.ref;
    const r = await env.docker(['pull', ref]);
    assertPulled(r, {
      ref,
      tagOrDigest: 'latest',
      repoPath: 'busybox-v2s2',
      digest: env.images.busyboxV2s2.digest,
      fetched: [],
    });
    // Same compressed blob as the OCI busybox, already in the store.
    for (const l of busyboxV2s2.manifest.layers) {
      assert.match(r.stdout, new RegExp(`^${short(l.digest)}: Already exists$`, 'm'));
    }
    assert.equal(busyboxV2s2.configDigest, busybox.configDigest);
    const img = await inspect(ref);
    assert.equal(img.Id, busybox.configDigest);
    assert.deepEqual([...img.RepoTags].sort(), [env.images.busybox.ref, ref].sort());
  });

  it('docker pull by digest of a 3-layer image with whiteouts', async () => {
    const { repository, digest } = env.images.multilayer;
    const ref = `${repository}@${digest}`;
    const r = await env.docker(['pull', ref]);
    assertPulled(r, {
      ref,
      tagOrDigest: digest,
      repoPath: 'multilayer',
      digest,
      fetched: multilayer.manifest.layers.map((l) => l.digest),
    });
    const img = await inspect(ref);
    assert.equal(img.Id, multilayer.configDigest);
    assert.deepEqual(img.RepoTags, []);
    assert.deepEqual(img.RepoDigests, [ref]);
    assert.equal(img.RootFS.Layers.length, MULTILAYER.layers);
    assert.deepEqual(img.RootFS.Layers, multilayer.config.rootfs.diff_ids);
  });

  it('docker pull --platform linux/arm64 picks the arm64 manifest from an index', async () => {
    const ref = env.images.multiarch.ref;
    const r = await env.docker(['pull', '--platform', 'linux/arm64', ref]);
    assert.equal(r.code, 0, describeResult(['pull'], r));
    assert.match(r.stdout, new RegExp(`^Digest: ${env.images.multiarch.digest}$`, 'm'));
    const arm = await inspect(ref);
    assert.equal(arm.Id, multiarchArm64.configDigest);
    assert.equal(arm.Architecture, 'arm64');
    assert.equal(arm.Os, 'linux');
    assert.equal(arm.Config.Labels?.[MULTIARCH.archLabel], 'arm64');
    assert.deepEqual(arm.RepoDigests, [
      `${env.images.multiarch.repository}@${env.images.multiarch.digest}`,
    ]);

    const amd = await env.docker(['pull', ref]);
    assert.equal(amd.code, 0, describeResult(['pull'], amd));
    const img = await inspect(ref);
    assert.equal(img.Id, multiarchAmd64.configDigest);
    assert.equal(img.Architecture, 'amd64');
  });

  it('docker pull of a missing tag fails with the registry error', async () => {
    const ref = `${reg}/busybox:nope`;
    const r = await env.docker(['pull', ref]);
    assert.notEqual(r.code, 0, describeResult(['pull', ref], r));
    assert.match(r.stderr, new RegExp(`manifest for ${esc(ref)} not found: manifest unknown`));
  });

  it('docker images lists tags and digests, and filters by reference and label', async () => {
    const fmt = async (...args: string[]) =>
      lines((await env.dockerOk(['images', ...args])).stdout).sort();
    const all = await fmt('--format', '{{.Repository}}:{{.Tag}}');
    for (const ref of [
      env.images.busybox.ref,
      env.images.busyboxV2s2.ref,
      env.images.multiarch.ref,
    ]) {
      assert.ok(all.includes(ref), `${ref} in ${all.join(', ')}`);
    }
    assert.ok(all.includes(`${reg}/multilayer:<none>`), all.join(', '));

    const digests = await fmt('--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}');
    assert.ok(
      digests.includes(`${env.images.busybox.ref} ${env.images.busybox.digest}`),
      digests.join('\n'),
    );
    assert.ok(
      digests.includes(`${reg}/multilayer:<none> ${env.images.multilayer.digest}`),
      digests.join('\n'),
    );
    const table = await env.dockerOk(['images', '--digests']);
    assert.match(table.stdout, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/m);
    assert.match(
      table.stdout,
      new RegExp(
        `^${esc(`${reg}/busybox`)}\\s+latest\\s+${env.images.busybox.digest}\\s+${short(busybox.configDigest)}\\s`,
        'm',
      ),
    );

    const f = '{{.Repository}}:{{.Tag}}';
    assert.deepEqual(await fmt('--filter', `reference=${reg}/busybox`, '--format', f), [
      env.images.busybox.ref,
    ]);
    assert.deepEqual(
      await fmt('--filter', `reference=${reg}/busybox*`, '--format', f),
      [env.images.busybox.ref, env.images.busyboxV2s2.ref].sort(),
    );
    assert.deepEqual(await fmt('--filter', `label=org.berth.test=multilayer`, '--format', f), [
      `${reg}/multilayer:<none>`,
    ]);
    assert.deepEqual(await fmt('--filter', `label=${MULTIARCH.archLabel}=amd64`, '--format', f), [
      env.images.multiarch.ref,
    ]);
    const ids = await fmt('-q', '--no-trunc', '--filter', `reference=${reg}/busybox*`);
    assert.deepEqual([...new Set(ids)], [busybox.configDigest]);
  });

  it('docker image inspect reports the image as the registry describes it', async () => {
    const img = await inspect(env.images.busybox.ref);
    assert.equal(img.Id, busybox.configDigest);
    assert.deepEqual(
      [...img.RepoTags].sort(),
      [env.images.busybox.ref, env.images.busyboxV2s2.ref].sort(),
    );
    assert.deepEqual(
      [...img.RepoDigests].sort(),
      [
        `${env.images.busybox.repository}@${env.images.busybox.digest}`,
        `${env.images.busyboxV2s2.repository}@${env.images.busyboxV2s2.digest}`,
      ].sort(),
    );
    assert.deepEqual(img.Config.Cmd, BUSYBOX.cmd);
    assert.deepEqual(img.Config.Env, BUSYBOX.env);
    assert.equal(img.Config.WorkingDir, BUSYBOX.workingDir);
    assert.deepEqual(img.Config.Labels, BUSYBOX.labels);
    assert.deepEqual(Object.keys(img.Config.ExposedPorts ?? {}), BUSYBOX.exposedPorts);
    assert.equal(img.RootFS.Type, 'layers');
    assert.deepEqual(img.RootFS.Layers, busybox.config.rootfs.diff_ids);
    assert.equal(img.Architecture, 'amd64');
    assert.equal(img.Os, 'linux');
    assert.equal(Date.parse(img.Created), Date.parse(busybox.config.created ?? ''));
    // Size is the unpacked content: the busybox binary plus a few small files.
    assert.ok(img.Size >= 1_900_000 && img.Size < 2_100_000, `Size ${img.Size}`);
    const byId = await inspect(short(busybox.configDigest));
    assert.equal(byId.Id, img.Id);
    const fmt = await env.dockerOk([
      'image',
      'inspect',
      '--format',
      '{{.Id}} {{.Os}}/{{.Architecture}}',
      env.images.busybox.ref,
    ]);
    assert.equal(fmt.stdout.trim(), `${busybox.configDigest} linux/amd64`);
  });

  it('docker history lists the config history, newest first', async () => {
    const r = await env.dockerOk([
      'history',
      '--no-trunc',
      '--format',
      '{{.ID}}|{{.CreatedBy}}|{{.Size}}',
      env.images.busybox.ref,
    ]);
    const rows = lines(r.stdout).map((l) => l.split('|'));
    const history = busybox.config.history ?? [];
    assert.equal(rows.length, history.length, r.stdout);
    assert.deepEqual(rows[0], [busybox.configDigest, 'umoci config', '0B']);
    assert.equal(rows[1]?.[0], '<missing>');
    assert.equal(rows[1]?.[1], 'umoci repack');
    assert.match(rows[1]?.[2] ?? '', /^1\.9\dMB$/);
    const table = await env.dockerOk(['history', env.images.busybox.ref]);
    assert.match(table.stdout, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/m);
    assert.match(table.stdout, new RegExp(`^${short(busybox.configDigest)}\\s`, 'm'));
  });

  it('docker tag and docker rmi: untag, conflict on an ID in several repositories, forced delete', async () => {
    const id = busybox.configDigest;
    assert.equal((await env.dockerOk(['tag', env.images.busybox.ref, 'mytag:v1'])).stdout, '');
    assert.ok((await inspect('mytag:v1')).RepoTags.includes('mytag:v1'));
    assert.equal((await inspect('mytag:v1')).Id, id);

    const untag = await env.dockerOk(['rmi', 'mytag:v1']);
    assert.deepEqual(lines(untag.stdout), ['Untagged: mytag:v1']);
    assert.equal((await inspect(env.images.busybox.ref)).Id, id);

    await env.dockerOk(['tag', env.images.busybox.ref, 'mytag:v1']);
    const refused = await env.docker(['rmi', short(id)]);
    assert.notEqual(refused.code, 0, describeResult(['rmi'], refused));
    assert.match(
      refused.stderr,
      new RegExp(
        `Error response from daemon: conflict: unable to delete ${short(id)} \\(must be forced\\) - image is referenced in multiple repositories`,
      ),
    );
    assert.equal((await inspect(short(id))).Id, id);

    const forced = await env.dockerOk(['rmi', '-f', short(id)]);
    const out = lines(forced.stdout);
    for (const ref of ['mytag:v1', env.images.busybox.ref, env.images.busyboxV2s2.ref]) {
      assert.ok(out.includes(`Untagged: ${ref}`), forced.stdout);
    }
    assert.ok(out.includes(`Deleted: ${id}`), forced.stdout);
    const gone = await env.docker(['image', 'inspect', id]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /No such image/);

    // By ID with references in one repository only: no force needed.
    const ml = await env.dockerOk(['rmi', short(multilayer.configDigest)]);
    assert.ok(
      lines(ml.stdout).includes(
        `Untagged: ${env.images.multilayer.repository}@${env.images.multilayer.digest}`,
      ),
      ml.stdout,
    );
    assert.ok(lines(ml.stdout).includes(`Deleted: ${multilayer.configDigest}`), ml.stdout);
  });

  it('docker image prune removes dangling images only', async () => {
    await env.dockerOk(['pull', env.images.busybox.ref]);
    const pushed = await pushTestImage(reg, 'multiarch', { repo: 'retag' });
    await env.dockerOk(['pull', '--platform', 'linux/arm64', pushed.ref]);
    await env.dockerOk(['pull', '--platform', 'linux/amd64', pushed.ref]);
    const armId = multiarchArm64.configDigest;
    assert.deepEqual((await inspect(armId)).RepoTags, []);

    const dangling = lines(
      (await env.dockerOk(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).stdout,
    );
    assert.ok(dangling.includes(armId), dangling.join(', '));
    assert.ok(!dangling.includes(busybox.configDigest));

    const r = await env.dockerOk(['image', 'prune', '-f']);
    assert.match(r.stdout, /^Deleted Images:$/m);
    assert.match(r.stdout, new RegExp(`^deleted: ${armId}$`, 'm'));
    assert.match(r.stdout, /^Total reclaimed space: \d/m);
    assert.notEqual((await env.docker(['image', 'inspect', armId])).code, 0);
    assert.equal((await inspect(env.images.busybox.ref)).Id, busybox.configDigest);
    assert.equal((await inspect(pushed.ref)).Id, multiarchAmd64.configDigest);
  });

  it('unknown images give "No such image:" errors', async () => {
    for (const args of [
      ['image', 'inspect', 'nosuch:latest'],
      ['rmi', 'nosuch:latest'],
      ['tag', 'nosuch:latest', 'other:1'],
      ['history', 'nosuch:latest'],
    ]) {
      const r = await env.docker(args);
      assert.notEqual(r.code, 0, describeResult(args, r));
      assert.match(r.stderr, /No such image: nosuch:latest/, describeResult(args, r));
    }
  });

  it('runs the multilayer image with whiteouts and the opaque directory applied (needs docker run)', async () => {
    const ref = `${env.images.multilayer.repository}@${env.images.multilayer.digest}`;
    await env.dockerOk(['pull', ref]);
    const script = `cat ${Object.keys(MULTILAYER.present).join(' ')}; ls -A /opq; ls -A /data`;
    const r = await env.docker(['run', '--rm', ref, 'sh', '-c', script], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, describeResult(['run'], r));
    assert.equal(r.stdout, `${Object.values(MULTILAYER.present).join('')}new.txt\nkeep.txt\n`);
  });
});
