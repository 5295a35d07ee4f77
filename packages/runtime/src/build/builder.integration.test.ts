/**
 * The classic builder's leftovers as moby leaves them, with the real docker CLI
 * (DOCKER_BUILDKIT=0) against berthd: step containers (`--rm`, `--force-rm`, a failed RUN's
 * container kept), `--pull` failing with the registry's error, ADD of .tar.xz and .tar.bz2; and the image
 * tree a build makes: `docker rmi` of a parent refused (409, cannot be forced) while child
 * images depend on it, `docker image prune` keeping intermediate images that still have children,
 * `docker history` naming each step's image.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { tempDir } from '../testing/process.js';

const skip = engineTestSkip();
const CLASSIC = { DOCKER_BUILDKIT: '0' };
const TIMEOUT = 300_000;
const short = (id: string) =>
  id
    .trim()
    .replace(/^sha256:/, '')
    .slice(0, 12);

describe('classic builder leftovers and the image tree', { skip, timeout: 1_200_000 }, () => {
  let env: EngineEnv;
  let busybox: string;
  const dirs: Array<{ remove(): void }> = [];

  /** A context directory holding `files` (path → content). */
  const ctx = (files: Record<string, string>): string => {
    const d = tempDir('build-leftovers');
    dirs.push(d);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(d.path, name, '..'), { recursive: true });
      writeFileSync(join(d.path, name), content);
    }
    return d.path;
  };
  const build = (args: string[]) =>
    env.docker(['build', ...args], { env: CLASSIC, timeoutMs: TIMEOUT });
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: TIMEOUT })).stdout;
  const containers = async () =>
    (await ok('ps', '-a', '--format', '{{.ID}} {{.Status}}')).split('\n').filter(Boolean);

  before(async () => {
    env = await startEngineEnv();
    busybox = env.images.busybox.ref;
    await ok('pull', busybox);
  });
  after(async () => {
    for (const d of dirs) d.remove();
    await env?.stop();
  });

  it("keeps a failed RUN's container (exited with its code) unless --force-rm", async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nRUN echo ok > /ok\nRUN echo no; exit 3\n` });
    const r = await build(['-t', 'kept', dir]);
    assert.equal(r.code, 3, describeResult(['build'], r));
    assert.match(r.stdout, /Removing intermediate container [0-9a-f]{12}/, 'the good step goes');
    const left = await containers();
    assert.equal(left.length, 1, left.join('\n'));
    assert.match(left[0] ?? '', /^[0-9a-f]{12} Exited \(3\)/);
    const running = /---> Running in ([0-9a-f]{12})\nno\n/.exec(r.stdout)?.[1];
    assert.equal(left[0]?.slice(0, 12), running, 'the kept one is the failed step');
    assert.notEqual((await env.docker(['image', 'inspect', 'kept'])).code, 0, 'no image');
    await ok('rm', running ?? '');

    const forced = await build(['--force-rm', '-t', 'kept', dir]);
    assert.equal(forced.code, 3);
    assert.match(forced.stdout, new RegExp(`Removing intermediate container [0-9a-f]{12}\\n$`));
    assert.deepEqual(await containers(), []);
  });

  it('keeps every step container with --rm=false, and --force-rm clears them on failure', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nRUN echo a > /a\nRUN echo b > /b\n` });
    const out = await build(['--rm=false', '--no-cache', '-t', 'norm', dir]);
    assert.equal(out.code, 0, describeResult(['build'], out));
    assert.doesNotMatch(out.stdout, /Removing intermediate container/);
    assert.equal((await containers()).length, 2);
    await ok('rm', ...(await containers()).map((l) => l.slice(0, 12)));

    const failing = ctx({ Dockerfile: `FROM ${busybox}\nRUN echo a > /a\nRUN exit 4\n` });
    const r = await build(['--rm=false', '--force-rm', '--no-cache', failing]);
    assert.equal(r.code, 4);
    assert.equal([...r.stdout.matchAll(/Removing intermediate container/g)].length, 2, r.stdout);
    assert.deepEqual(await containers(), []);
  });

  it("--pull fails with the registry's error instead of using the local image", async () => {
    const localOnly = `${env.registry.host}/never-pushed:v1`;
    await ok('tag', busybox, localOnly);
    const dir = ctx({ Dockerfile: `FROM ${localOnly}\nRUN echo built\n` });
    const pull = await env.docker(['pull', localOnly]);
    assert.notEqual(pull.code, 0);
    const registryText = pull.stderr.replace(/^Error response from daemon: /, '').trim();
    const r = await build(['--pull', dir]);
    assert.notEqual(r.code, 0, describeResult(['build', '--pull'], r));
    assert.ok(r.stderr.includes(registryText), `pull: ${pull.stderr}\nbuild: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /Successfully built/);
    // Without --pull the local image is the base, as before.
    const local = await build([dir]);
    assert.equal(local.code, 0, describeResult(['build'], local));
  });

  for (const [kind, flag] of [
    ['xz', '-J'],
    ['bz2', '-j'],
  ] as const) {
    it(`ADD unpacks a local .tar.${kind}`, async () => {
      const dir = ctx({ 'payload/inner.txt': `from ${kind}\n` });
      const archive = `payload.tar.${kind}`;
      execFileSync('tar', [flag, '-cf', join(dir, archive), '-C', join(dir, 'payload'), '.']);
      writeFileSync(
        join(dir, 'Dockerfile'),
        `FROM ${busybox}\nADD ${archive} /unpacked/\nCMD ["cat", "/unpacked/inner.txt"]\n`,
      );
      const r = await build(['-t', `${kind}-add`, dir]);
      assert.equal(r.code, 0, describeResult(['build'], r));
      assert.equal(await ok('run', '--rm', `${kind}-add`), `from ${kind}\n`);
    });
  }

  it('--cache-from reuses the steps of an image pulled from a registry, as moby matches history', async () => {
    const files = {
      Dockerfile: `FROM ${busybox}\nENV STAGE=cf\nRUN echo built > /built\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n`,
      'app.txt': 'v1\n',
    };
    const dir = ctx(files);
    const remote = `${env.registry.host}/cache-from:latest`;
    const first = await build(['-t', remote, dir]);
    assert.equal(first.code, 0, describeResult(['build'], first));
    await ok('push', remote);
    const builtId = (await ok('image', 'inspect', '--format', '{{.Id}}', remote)).trim();
    // Forget every trace of the build here: the image, its intermediates, the step cache.
    await ok('rmi', remote);
    await ok('builder', 'prune', '-af');
    await ok('pull', remote);
    const pulledId = (await ok('image', 'inspect', '--format', '{{.Id}}', remote)).trim();
    assert.equal(pulledId, builtId, 'the registry round trip keeps the image ID');

    const cold = await build(['-t', 'cf-cold', ctx(files)]);
    assert.equal(cold.code, 0, describeResult(['build'], cold));
    assert.doesNotMatch(cold.stdout, /Using cache/, 'nothing cached without --cache-from');
    await ok('rmi', 'cf-cold');
    await ok('builder', 'prune', '-af');

    const warm = await build(['--cache-from', remote, '-t', 'cf-warm', ctx(files)]);
    assert.equal(warm.code, 0, describeResult(['build'], warm));
    assert.equal(warm.stdout.match(/---> Using cache/g)?.length, 4, warm.stdout);
    assert.doesNotMatch(warm.stdout, /Running in/);
    assert.equal(
      (await ok('image', 'inspect', '--format', '{{.Id}}', 'cf-warm')).trim(),
      pulledId,
      'an unchanged Dockerfile rebuilds to the very image pulled',
    );
    assert.equal(await ok('run', '--rm', 'cf-warm'), 'v1\n');

    // A changed file: the steps before COPY come from the pulled image, COPY and CMD run anew.
    const changed = await build([
      '--cache-from',
      remote,
      '--cache-from',
      'not-here:anywhere',
      '-t',
      'cf-changed',
      ctx({ ...files, 'app.txt': 'v2\n' }),
    ]);
    assert.equal(changed.code, 0, describeResult(['build'], changed));
    assert.equal(changed.stdout.match(/---> Using cache/g)?.length, 2, changed.stdout);
    assert.equal(await ok('run', '--rm', 'cf-changed'), 'v2\n');
    const history = await ok('history', '--no-trunc', '--format', '{{.CreatedBy}}', 'cf-changed');
    assert.match(history, /RUN|echo built > \/built/);
    assert.equal(
      (await ok('run', '--rm', 'cf-changed', 'cat', '/built')).trim(),
      'built',
      "the RUN step's layer came with the cache",
    );
  });

  it('refuses to rmi a parent of child images (409, cannot be forced); rmi by name untags', async () => {
    const dir = ctx({
      Dockerfile: `FROM ${busybox}\nENV STEP=1\nRUN echo one > /one\nLABEL tree=yes\n`,
    });
    const out = await build(['-t', 'tree:1', dir]);
    assert.equal(out.code, 0, describeResult(['build'], out));
    const steps = [...out.stdout.matchAll(/^ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1] ?? '');
    const base = short(await ok('image', 'inspect', '-f', '{{.Id}}', busybox));
    const intermediate = steps[1] ?? '';
    assert.notEqual(intermediate, base);
    for (const [id, args] of [
      [base, ['rmi', base]],
      [base, ['rmi', '-f', base]],
      [intermediate, ['rmi', intermediate]],
      [intermediate, ['rmi', '-f', intermediate]],
    ] as const) {
      const r = await env.docker(args);
      assert.notEqual(r.code, 0, describeResult(args, r));
      assert.match(
        r.stderr,
        new RegExp(
          `Error response from daemon: conflict: unable to delete ${id} \\(cannot be forced\\) - image has dependent child images`,
        ),
      );
    }
    // By its only name: the tag goes, the image stays for its children (moby's quiet conflict).
    await ok('tag', intermediate, 'mid:1');
    assert.equal((await ok('rmi', 'mid:1')).trim(), 'Untagged: mid:1');
    assert.equal(short(await ok('image', 'inspect', '-f', '{{.Id}}', intermediate)), intermediate);
    assert.equal(await ok('run', '--rm', 'tree:1', 'cat', '/one'), 'one\n');
  });

  it("docker history names each step's image and then the base's, as moby walks the parents", async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nENV H=1\nRUN echo h > /h\nLABEL h=yes\n` });
    const out = await build(['-t', 'hist:1', dir]);
    assert.equal(out.code, 0, describeResult(['build'], out));
    const steps = [...out.stdout.matchAll(/^ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1] ?? '');
    assert.equal(steps.length, 4, out.stdout);
    const ids = (await ok('history', '--format', '{{.ID}}', 'hist:1')).trim().split('\n');
    assert.deepEqual(ids.slice(0, 4), [...steps].reverse(), ids.join('\n'));
    assert.ok(
      ids.slice(4).every((id) => id === '<missing>'),
      `the base's older entries have no image of their own: ${ids.join(' ')}`,
    );
  });

  it('image prune keeps intermediate images that still have children', async () => {
    const dir = ctx({
      Dockerfile: `FROM ${busybox}\nCOPY v.txt /\nRUN cat /v.txt\nCMD ["cat", "/v.txt"]\n`,
      'v.txt': 'v1\n',
    });
    const built = async () => {
      const r = await build(['-t', 'pruned:1', dir]);
      assert.equal(r.code, 0, describeResult(['build'], r));
      return [...r.stdout.matchAll(/^ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1] ?? '');
    };
    const old = await built();
    writeFileSync(join(dir, 'v.txt'), 'v2\n');
    const current = await built();
    assert.equal(current.length, 4, current.join(' '));
    assert.equal(old[0], current[0], 'the same base');

    const report = await ok('image', 'prune', '-f');
    // The old image is dangling (no tag, no child): it goes with its own parents.
    for (const id of old.slice(1))
      assert.match(report, new RegExp(`deleted: sha256:${id}`, 'i'), report);
    const all = (await ok('images', '-aq')).split('\n');
    for (const id of current) assert.ok(all.includes(id), `${id} of the current chain pruned`);
    for (const id of old.slice(1)) assert.ok(!all.includes(id), `${id} of the old chain kept`);
    assert.equal(await ok('run', '--rm', 'pruned:1'), 'v2\n');
  });
});
