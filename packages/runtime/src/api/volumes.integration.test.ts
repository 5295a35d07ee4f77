/**
 * Volumes and mounts through berthd with the real docker CLI: `docker volume` verbs, named
 * volumes shared between containers and surviving `docker rm`, copy-up of image content,
 * read-only binds, `--mount type=tmpfs`, an image VOLUME's anonymous volume removed by
 * `rm -v`, and bad input answered with Docker's messages.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { runOk, tempDir } from '../testing/process.js';
import { testImageLayout } from '../testing/test-images.js';

const skip = engineTestSkip();

/** The multilayer test image (busybox + /data/keep.txt) with `VOLUME /data`, pushed as `withvolume`. */
async function pushVolumeImage(registryHost: string): Promise<string> {
  const { layout, tag } = await testImageLayout('multilayer');
  await runOk(
    'umoci',
    ['config', '--image', `${layout}:${tag}`, '--tag', 'withvolume', '--config.volume', '/data'],
    { timeoutMs: 60_000 },
  );
  const ref = `${registryHost}/withvolume:latest`;
  await runOk(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:withvolume`,
      `docker://${ref}`,
    ],
    { timeoutMs: 120_000 },
  );
  return ref;
}

describe('volumes through berthd and the docker CLI', { skip }, () => {
  let env: EngineEnv;
  let busybox: string;
  let multilayer: string;
  let withVolume: string;
  let host: { path: string; remove(): void };
  let containersApi = false;

  const docker = (...args: string[]) => env.docker(args, { timeoutMs: 120_000 });
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: 120_000 })).stdout;
  const fails = (args: string[], message: string | RegExp) =>
    env.dockerFails(args, message, { timeoutMs: 120_000 });

  before(async () => {
    env = await startEngineEnv();
    host = tempDir('berth-volume-binds-');
    busybox = env.images.busybox.ref;
    multilayer = env.images.multilayer.ref;
    withVolume = await pushVolumeImage(env.registry.host);
    for (const ref of [busybox, multilayer, withVolume]) await ok('pull', '-q', ref);
    // The container verbs come from another part of issue 4; until they exist, the container
    // tests below skip saying so.
    const probe = await docker('create', busybox, 'true');
    containersApi = probe.code === 0;
    if (containersApi) await ok('rm', probe.stdout.trim());
  });

  after(async () => {
    await env?.stop();
    host?.remove();
  });

  it('docker volume create/ls/inspect/rm/prune', async () => {
    assert.equal(await ok('volume', 'create', '--label', 'app=web', 'webdata'), 'webdata\n');
    assert.equal(await ok('volume', 'create', 'webdata'), 'webdata\n');
    const mountpoint = await ok('volume', 'inspect', '-f', '{{.Mountpoint}}', 'webdata');
    assert.equal(mountpoint.trim(), join(env.berthd.dataRoot, 'volumes/webdata/_data'));
    assert.equal(await ok('volume', 'ls', '-q', '--filter', 'label=app'), 'webdata\n');
    writeFileSync(join(mountpoint.trim(), 'five'), '12345');
    assert.match(await ok('system', 'df', '-v'), /^webdata\s+0\s+5B$/m);
    await ok('volume', 'create', 'scratch');
    assert.match(
      await ok('volume', 'prune', '-f'),
      /Deleted Volumes:\n(scratch\nwebdata|webdata\nscratch)\n/,
    );
    assert.equal(await ok('volume', 'ls', '-q'), '');
    await fails(
      ['volume', 'create', 'x!'],
      `create x!: "x!" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
    await fails(['volume', 'rm', 'nope'], 'No such volume: nope');
    await fails(['volume', 'inspect', 'nope'], 'No such volume: nope');
  });

  it('keeps a named volume across docker rm and shares it with a second container', async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    await ok(
      'run',
      '--name',
      'writer',
      '-v',
      'shared:/data',
      busybox,
      'sh',
      '-c',
      'echo kept > /data/f',
    );
    const id = (await ok('inspect', '-f', '{{.Id}}', 'writer')).trim();
    const mounts = JSON.parse(await ok('inspect', '-f', '{{json .Mounts}}', 'writer')) as unknown;
    assert.deepEqual(mounts, [
      {
        Type: 'volume',
        Name: 'shared',
        Source: join(env.berthd.dataRoot, 'volumes/shared/_data'),
        Destination: '/data',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
    ]);
    await fails(['volume', 'rm', 'shared'], `remove shared: volume is in use - [${id}]`);
    await ok('rm', '-v', 'writer');
    assert.equal(await ok('volume', 'ls', '-q'), 'shared\n', 'rm -v keeps named volumes');
    assert.equal(
      await ok('run', '--rm', '-v', 'shared:/data:ro', busybox, 'cat', '/data/f'),
      'kept\n',
    );
    await ok('volume', 'rm', 'shared');
  });

  it('copies image content into a new volume', async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    assert.equal(
      await ok('run', '--rm', '-v', 'fresh:/data', multilayer, 'cat', '/data/keep.txt'),
      'keep v3\n',
    );
    assert.equal(
      readFileSync(join(env.berthd.dataRoot, 'volumes/fresh/_data/keep.txt'), 'utf8'),
      'keep v3\n',
    );
    assert.equal(
      await ok('run', '--rm', '-v', 'empty:/data:nocopy', multilayer, 'ls', '-A', '/data'),
      '',
    );
    await ok('volume', 'rm', 'fresh', 'empty');
  });

  it('bind-mounts a host directory read-only', async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    writeFileSync(join(host.path, 'hello.txt'), 'from the host\n');
    const r = await docker(
      'run',
      '--rm',
      '-v',
      `${host.path}:/src:ro`,
      busybox,
      'sh',
      '-c',
      'cat /src/hello.txt && touch /src/new',
    );
    assert.equal(r.code, 1, describeResult(['run'], r));
    assert.equal(r.stdout, 'from the host\n');
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(
      await ok(
        'run',
        '--rm',
        '--mount',
        `type=bind,source=${host.path},target=/w`,
        busybox,
        'sh',
        '-c',
        'echo back > /w/back.txt && echo done',
      ),
      'done\n',
    );
    assert.equal(readFileSync(join(host.path, 'back.txt'), 'utf8'), 'back\n');
  });

  it('mounts a tmpfs with --mount type=tmpfs', async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    const out = await ok(
      'run',
      '--rm',
      '--mount',
      'type=tmpfs,target=/scratch,tmpfs-size=1048576',
      busybox,
      'sh',
      '-c',
      'grep " /scratch " /proc/mounts',
    );
    assert.match(out, /^tmpfs \/scratch tmpfs rw,nosuid,nodev,noexec.*size=1024k/);
  });

  it("gives an image VOLUME an anonymous volume with the image's content, removed by rm -v", async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    await ok('run', '--name', 'imgvol', withVolume, 'cat', '/data/keep.txt');
    const [mount] = JSON.parse(await ok('inspect', '-f', '{{json .Mounts}}', 'imgvol')) as Array<{
      Type: string;
      Name: string;
      Destination: string;
    }>;
    assert.equal(mount?.Type, 'volume');
    assert.match(mount?.Name ?? '', /^[0-9a-f]{64}$/);
    assert.equal(mount?.Destination, '/data');
    const labels = await ok('volume', 'inspect', '-f', '{{json .Labels}}', mount?.Name ?? '');
    assert.equal(labels.trim(), '{"com.docker.volume.anonymous":""}');
    await ok('rm', '-v', 'imgvol');
    assert.equal(await ok('volume', 'ls', '-q'), '');
  });

  it("refuses bad mounts with Docker's messages", async (t) => {
    if (!containersApi) return t.skip('docker create is not served by berthd yet');
    await fails(
      ['create', '-v', 'x!:/d', busybox],
      /create x!: "x!" includes invalid characters for a local volume name/,
    );
    await fails(
      ['create', '--mount', 'type=bind,source=/no/such/dir,target=/x', busybox],
      'invalid mount config for type "bind": bind source path does not exist: /no/such/dir',
    );
    await fails(
      ['create', '-v', 'a1:/data', '-v', 'a2:/data', busybox],
      'Duplicate mount point: /data',
    );
    assert.equal(await ok('ps', '-aq'), '');
  });
});
