/**
 * A container's files through berthd with the real docker CLI: `docker cp` both ways (files,
 * directories, a stopped container, a symlink that points outside the root — followed inside
 * it, CVE-2018-15664), `docker diff`, `docker commit` with `--change` (the new image runs and
 * shows the change) and `docker export`; bad input answered with Docker's status and text.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { run, tempDir } from '../testing/process.js';
import { socketRequest } from '../testing/socket-http.js';

const skip = engineTestSkip();

describe('cp, diff, commit and export through berthd and the docker CLI', { skip }, () => {
  let env: EngineEnv;
  let busybox: string;
  let host: { path: string; remove(): void };

  const docker = (...args: string[]) => env.docker(args, { timeoutMs: 120_000 });
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: 120_000 })).stdout;

  before(async () => {
    env = await startEngineEnv();
    busybox = env.images.busybox.ref;
    host = tempDir('berth-cp-');
    await ok('pull', busybox);
    await ok('run', '-d', '--name', 'files', busybox, 'sleep', '1000');
  });

  after(async () => {
    await env?.docker(['rm', '-f', 'files', 'parked', 'fromcommit'], { timeoutMs: 60_000 });
    await env?.stop();
    host?.remove();
  });

  it('copies a file and a directory into a running container and back', async () => {
    writeFileSync(join(host.path, 'hello.txt'), 'hello from the host\n');
    mkdirSync(join(host.path, 'tree/sub'), { recursive: true });
    writeFileSync(join(host.path, 'tree/sub/leaf'), 'leaf\n');
    await ok('cp', join(host.path, 'hello.txt'), 'files:/tmp/');
    await ok('cp', join(host.path, 'tree'), 'files:/opt');
    assert.equal(await ok('exec', 'files', 'cat', '/tmp/hello.txt'), 'hello from the host\n');
    assert.equal(await ok('exec', 'files', 'cat', '/opt/sub/leaf'), 'leaf\n');

    await ok('exec', 'files', 'sh', '-c', 'mkdir -p /out/d && echo inside > /out/d/f');
    await ok('cp', 'files:/out', join(host.path, 'back'));
    assert.equal(readFileSync(join(host.path, 'back/d/f'), 'utf8'), 'inside\n');
    await ok('cp', 'files:/out/d/f', join(host.path, 'single'));
    assert.equal(readFileSync(join(host.path, 'single'), 'utf8'), 'inside\n');
  });

  it('follows a symlink that points outside the root inside it (CVE-2018-15664)', async () => {
    // /escape -> / and /etc-link -> /etc: both must resolve in the container's root.
    await ok('exec', 'files', 'sh', '-c', 'ln -s / /escape && ln -s ../../../../etc /up');
    await ok('cp', join(host.path, 'hello.txt'), 'files:/escape/tmp/via-link.txt');
    assert.equal(await ok('exec', 'files', 'cat', '/tmp/via-link.txt'), 'hello from the host\n');
    assert.ok(!existsSync('/tmp/via-link.txt'), 'nothing was written on the host');

    await ok('cp', 'files:/up/passwd', join(host.path, 'passwd'));
    const copied = readFileSync(join(host.path, 'passwd'), 'utf8');
    assert.equal(copied, await ok('exec', 'files', 'cat', '/etc/passwd'));

    const stat = await socketRequest(env.berthd.socket, '/containers/files/archive?path=/escape', {
      method: 'HEAD',
    });
    assert.equal(stat.status, 200);
    const header = stat.headers['x-docker-container-path-stat'];
    const info = JSON.parse(Buffer.from(String(header), 'base64').toString('utf8')) as {
      name: string;
      mode: number;
      linkTarget: string;
    };
    assert.equal(info.name, 'escape');
    assert.equal(info.linkTarget, '/');
    assert.ok(info.mode >= 2 ** 27, 'Go ModeSymlink is set');
  });

  it('copies to and from a stopped container', async () => {
    await ok('create', '--name', 'parked', busybox, 'cat', '/greeting');
    writeFileSync(join(host.path, 'greeting'), 'parked hello\n');
    await ok('cp', join(host.path, 'greeting'), 'parked:/greeting');
    await ok('cp', 'parked:/greeting', join(host.path, 'greeting-back'));
    assert.equal(readFileSync(join(host.path, 'greeting-back'), 'utf8'), 'parked hello\n');
    assert.equal(await ok('start', '-a', 'parked'), 'parked hello\n');
  });

  it('answers a missing path with 404 and moby text', async () => {
    const r = await docker('cp', 'files:/nope', join(host.path, 'x'));
    assert.equal(r.code, 1, describeResult(['cp'], r));
    assert.match(r.stderr, /No such container:path: files:\/nope/);
    const api = await socketRequest(env.berthd.socket, '/containers/files/archive?path=/nope');
    assert.equal(api.status, 404);
    assert.equal(
      (JSON.parse(api.body) as { message: string }).message,
      'Could not find the file /nope in container files',
    );
    const put = await socketRequest(
      env.berthd.socket,
      '/containers/files/archive?path=/etc/passwd',
      {
        method: 'PUT',
        body: Buffer.alloc(1024),
      },
    );
    assert.equal(put.status, 400);
    assert.match(put.body, /extraction point is not a directory/);
  });

  it('lists changes with docker diff', async () => {
    await ok(
      'exec',
      'files',
      'sh',
      '-c',
      'echo x > /added && rm /bin/true && echo y >> /etc/passwd',
    );
    const lines = (await ok('diff', 'files')).trim().split('\n');
    for (const line of ['A /added', 'C /bin', 'D /bin/true', 'C /etc', 'C /etc/passwd']) {
      assert.ok(lines.includes(line), `${line} in\n${lines.join('\n')}`);
    }
    // The runtime's mount points (/proc, /etc/hosts...) are not changes.
    for (const stub of ['A /proc', 'A /sys', 'A /dev', 'A /etc/hosts', 'A /etc/resolv.conf']) {
      assert.ok(!lines.includes(stub), `${stub} listed`);
    }
  });

  it('commits the changes as a new image that runs and shows them', async () => {
    const id = (
      await ok(
        'commit',
        '--change',
        'CMD ["cat", "/added"]',
        '--change',
        'ENV COMMITTED=yes',
        '--change',
        'LABEL stage=committed',
        '-m',
        'a message',
        '-a',
        'tester',
        'files',
        'committed:v1',
      )
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok('run', '--rm', 'committed:v1'), 'x\n');
    assert.equal(
      await ok('run', '--rm', 'committed:v1', 'sh', '-c', 'echo $COMMITTED; ls /bin/true || true'),
      'yes\n',
    );
    const inspect = JSON.parse(await ok('image', 'inspect', 'committed:v1')) as Array<{
      Author: string;
      Comment: string;
      Config: { Labels: Record<string, string> };
      RootFS: { Layers: string[] };
    }>;
    assert.equal(inspect[0]?.Author, 'tester');
    assert.equal(inspect[0]?.Config.Labels.stage, 'committed');
    const history = await ok('history', '--format', '{{.Comment}}', 'committed:v1');
    assert.match(history, /a message/);

    await ok('run', '-d', '--name', 'fromcommit', 'committed:v1', 'sleep', '1000');
    assert.equal(await ok('exec', 'fromcommit', 'cat', '/added'), 'x\n');

    const bad = await docker('commit', '--change', 'RUN echo no', 'files', 'committed:bad');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /RUN is not a valid change command/);
  });

  it('exports the merged root filesystem as a tar', async () => {
    const file = join(host.path, 'export.tar');
    await ok('export', '-o', file, 'files');
    const list = await run('tar', ['tf', file], { timeoutMs: 60_000 });
    assert.equal(list.code, 0, list.stderr);
    const names = list.stdout.split('\n');
    for (const n of ['bin/busybox', 'added', 'etc/passwd', 'tmp/hello.txt']) {
      assert.ok(names.includes(n), `${n} in the export`);
    }
    assert.ok(!names.includes('bin/true'), 'a deleted file is not exported');
  });
});
