/**
 * `docker build` (classic builder, DOCKER_BUILDKIT=0) and docker-compose v1 `build:` against
 * berthd: a multi-stage Dockerfile on the test busybox image, the step cache (hits, a changed
 * file invalidating its COPY and what follows, --no-cache), .dockerignore, build args,
 * --target, several tags, --label, ADD of a local tar, ONBUILD, FROM scratch; each error
 * case (syntax error naming the line, failing RUN with command and exit code and no leftover
 * containers with --force-rm, missing COPY source, a context symlink escaping the context);
 * the built image runs and inspect shows its config.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeResult, engineTestSkip, startEngineEnv } from '../testing/engine-env.js';
import type { EngineEnv } from '../testing/engine-env.js';
import { run, tempDir } from '../testing/process.js';
import { skipUnless } from '../testing/tools.js';

const skip = engineTestSkip();
const CLASSIC = { DOCKER_BUILDKIT: '0' };
const TIMEOUT = 300_000;

/** Writes `files` (path → content) under a fresh directory. */
function context(files: Record<string, string>): { path: string; remove(): void } {
  const dir = tempDir('build-ctx');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir.path, name, '..'), { recursive: true });
    writeFileSync(join(dir.path, name), content);
  }
  return dir;
}

describe('docker build (classic builder) through berthd', { skip, timeout: 1_800_000 }, () => {
  let env: EngineEnv;
  let busybox: string;
  const dirs: Array<{ remove(): void }> = [];

  const build = (args: string[], cwd?: string) =>
    env.docker(['build', ...args], { env: CLASSIC, timeoutMs: TIMEOUT, ...(cwd ? { cwd } : {}) });
  const buildOk = async (args: string[]) => {
    const r = await build(args);
    assert.equal(r.code, 0, describeResult(['build', ...args], r));
    return r.stdout;
  };
  const ok = async (...args: string[]) => (await env.dockerOk(args, { timeoutMs: TIMEOUT })).stdout;
  const inspect = async (ref: string) =>
    (JSON.parse(await ok('image', 'inspect', ref)) as Array<Record<string, unknown>>)[0] as {
      Id: string;
      Config: Record<string, unknown>;
    };
  const ctx = (files: Record<string, string>) => {
    const d = context(files);
    dirs.push(d);
    return d.path;
  };

  before(async () => {
    env = await startEngineEnv();
    busybox = env.images.busybox.ref;
    await ok('pull', busybox);
  });

  after(async () => {
    for (const d of dirs) d.remove();
    await env?.stop();
  });

  let appDir: string;
  const dockerfile = () =>
    [
      `FROM ${busybox} AS builder`,
      'ARG WHO=nobody',
      'WORKDIR /src',
      'COPY greeting.txt ./',
      'RUN echo "built for $WHO" > /src/out.txt && cat greeting.txt >> /src/out.txt',
      '',
      `FROM ${busybox}`,
      'ENV APP_HOME=/app \\',
      '    MODE="production mode"',
      'WORKDIR $APP_HOME',
      'COPY --from=builder /src/out.txt ./',
      'USER 1000:1000',
      'EXPOSE 8080 9090/udp',
      'LABEL org.example.name="demo app" tier=web',
      'CMD ["cat", "/app/out.txt"]',
      '',
    ].join('\n');

  it('builds a multi-stage Dockerfile with build args, tags and labels; the image runs', async () => {
    appDir = ctx({ 'greeting.txt': 'hello\n', Dockerfile: dockerfile() });
    const out = await buildOk([
      '-t',
      'demo:1',
      '-t',
      'demo:latest',
      '--build-arg',
      'WHO=tests',
      '--label',
      'built.by=berth',
      appDir,
    ]);
    assert.match(out, /^Step 1\/14 : FROM .* AS builder$/m);
    assert.match(out, /^Step 5\/14 : RUN echo "built for \$WHO"/m);
    assert.match(out, /^ ---> Running in [0-9a-f]{12}$/m);
    assert.match(out, /^Removing intermediate container [0-9a-f]{12}$/m);
    assert.match(out, /^Step 14\/14 : LABEL "built.by"='berth'$/m);
    assert.match(out, /^Successfully built [0-9a-f]{12}$/m);
    assert.match(out, /^Successfully tagged demo:1$/m);
    assert.match(out, /^Successfully tagged demo:latest$/m);

    assert.equal(await ok('run', '--rm', 'demo:1'), 'built for tests\nhello\n');
    const img = await inspect('demo:1');
    assert.equal((await inspect('demo:latest')).Id, img.Id);
    const c = img.Config;
    assert.deepEqual(c.Cmd, ['cat', '/app/out.txt']);
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, '1000:1000');
    assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '9090/udp': {} });
    const base = (await inspect(busybox)).Config.Labels as Record<string, string>;
    assert.deepEqual(c.Labels, {
      ...base,
      'org.example.name': 'demo app',
      tier: 'web',
      'built.by': 'berth',
    });
    const envList = c.Env as string[];
    assert.ok(envList.includes('APP_HOME=/app'), envList.join(','));
    assert.ok(envList.includes('MODE=production mode'), envList.join(','));
    assert.ok(!envList.some((e) => e.startsWith('WHO=')), 'build args stay out of the image');

    const history = await ok('history', '--no-trunc', '--format', '{{.CreatedBy}}', 'demo:1');
    assert.match(history, /^\/bin\/sh -c #\(nop\) {2}CMD \["cat" "\/app\/out.txt"\]$/m);
    assert.match(history, /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/app\/ $/m);
    // No build container is left behind.
    assert.equal((await ok('ps', '-aq')).trim(), '');
  });

  it('reuses every step on a second build ("Using cache"), with the same image ID', async () => {
    const first = await inspect('demo:1');
    const out = await buildOk([
      '-t',
      'demo:1',
      '--build-arg',
      'WHO=tests',
      '--label',
      'built.by=berth',
      appDir,
    ]);
    // Every step but the two FROMs.
    assert.equal(out.match(/^ ---> Using cache$/gm)?.length, 12, out);
    assert.doesNotMatch(out, /Running in/);
    assert.equal((await inspect('demo:1')).Id, first.Id);
  });

  it('invalidates a changed COPY and every step after it; --no-cache bypasses the cache', async () => {
    writeFileSync(join(appDir, 'greeting.txt'), 'changed\n');
    const out = await buildOk(['-t', 'demo:2', '--build-arg', 'WHO=tests', appDir]);
    const steps = out.split(/^Step /m).slice(1);
    const cached = steps.map((s) => /^ ---> Using cache$/m.test(s));
    // Steps 2-3 (ARG, WORKDIR) cached; COPY (4) and RUN (5) rebuilt; stage 2 rebuilt from its COPY.
    assert.deepEqual(cached.slice(0, 5), [false, true, true, false, false], out);
    assert.equal(cached[6], true, steps[6]);
    assert.equal(cached[8], false, steps[8]);
    assert.equal(await ok('run', '--rm', 'demo:2'), 'built for tests\nchanged\n');

    const fresh = await buildOk(['--no-cache', '-t', 'demo:3', '--build-arg', 'WHO=tests', appDir]);
    assert.doesNotMatch(fresh, /Using cache/);
  });

  it('builds only up to --target', async () => {
    await buildOk([
      '--target',
      'builder',
      '-t',
      'demo:builder',
      '--build-arg',
      'WHO=target',
      appDir,
    ]);
    assert.equal(
      await ok('run', '--rm', 'demo:builder', 'cat', '/src/out.txt'),
      'built for target\nchanged\n',
    );
    const r = await build(['--target', 'nope', appDir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed to reach build target nope in Dockerfile/);
  });

  it('applies .dockerignore with ! exceptions', async () => {
    const dir = ctx({
      Dockerfile: [
        `FROM ${busybox}`,
        'COPY . /ctx/',
        'CMD ["sh", "-c", "cd /ctx && find . -type f | sort"]',
      ].join('\n'),
      '.dockerignore': ['*.log', 'secret/', 'docs', '!docs/keep.md'].join('\n'),
      'app.txt': 'a',
      'debug.log': 'x',
      'secret/key': 'k',
      'docs/drop.md': 'd',
      'docs/keep.md': 'k',
    });
    await buildOk(['-t', 'ignored', dir]);
    assert.equal(
      await ok('run', '--rm', 'ignored'),
      ['./.dockerignore', './Dockerfile', './app.txt', './docs/keep.md', ''].join('\n'),
    );
  });

  it('handles ADD of a local tar.gz, ONBUILD triggers, FROM scratch and -f', async () => {
    const dir = ctx({ 'payload/inner.txt': 'inside\n' });
    execFileSync('tar', ['-czf', join(dir, 'payload.tgz'), '-C', join(dir, 'payload'), '.']);
    writeFileSync(
      join(dir, 'base.Dockerfile'),
      [`FROM ${busybox}`, 'ONBUILD RUN echo triggered > /trigger.txt'].join('\n'),
    );
    await buildOk(['-f', join(dir, 'base.Dockerfile'), '-t', 'onbuild-base', dir]);
    writeFileSync(
      join(dir, 'Dockerfile'),
      [
        'FROM onbuild-base',
        'ADD payload.tgz /unpacked/',
        'CMD ["cat", "/unpacked/inner.txt", "/trigger.txt"]',
      ].join('\n'),
    );
    const out = await buildOk(['-t', 'child', dir]);
    assert.match(out, /# Executing 1 build trigger/);
    assert.equal(await ok('run', '--rm', 'child'), 'inside\ntriggered\n');

    writeFileSync(
      join(dir, 'scratch.Dockerfile'),
      ['FROM scratch', 'COPY payload/inner.txt /', 'CMD ["/inner.txt"]'].join('\n'),
    );
    await buildOk(['-f', join(dir, 'scratch.Dockerfile'), '-t', 'from-scratch', dir]);
    const img = await inspect('from-scratch');
    assert.deepEqual(img.Config.Cmd, ['/inner.txt']);
    const layers = JSON.parse(
      await ok('image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'from-scratch'),
    ) as string[];
    assert.equal(layers.length, 1);
  });

  it('records SHELL, ENTRYPOINT, VOLUME, STOPSIGNAL, HEALTHCHECK and COPY --chown', async () => {
    const dir = ctx({
      'f.txt': 'f',
      Dockerfile: [
        `FROM ${busybox}`,
        'SHELL ["/bin/sh", "-ec"]',
        'RUN echo shell-form-ran > /ran',
        'COPY --chown=1234:2345 f.txt /owned/',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGUSR1',
        'HEALTHCHECK --interval=5s --retries=2 CMD true',
        'ENTRYPOINT ["stat", "-c", "%u:%g"]',
        'CMD ["/owned/f.txt"]',
      ].join('\n'),
    });
    await buildOk(['-t', 'meta', dir]);
    const c = (await inspect('meta')).Config;
    assert.deepEqual(c.Shell, ['/bin/sh', '-ec']);
    assert.deepEqual(c.Entrypoint, ['stat', '-c', '%u:%g']);
    assert.deepEqual(c.Cmd, ['/owned/f.txt']);
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.equal(c.StopSignal, 'SIGUSR1');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 });
    assert.equal(await ok('run', '--rm', 'meta'), '1234:2345\n');
    const history = await ok('history', '--no-trunc', '--format', '{{.CreatedBy}}', 'meta');
    assert.match(history, /^\/bin\/sh -ec echo shell-form-ran > \/ran$/m);
  });

  it('names the line of a syntax error', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nRUN true\nFORM x\n` });
    const r = await build([dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dockerfile parse error line 3: unknown instruction: FORM/);
  });

  it('reports a failing RUN with its command and exit code, leaving no image or container with --force-rm', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nRUN echo before\nRUN exit 3\n` });
    const r = await build(['--force-rm', '-t', 'failing', dir]);
    assert.equal(r.code, 3, describeResult(['build'], r));
    assert.match(
      r.stdout + r.stderr,
      /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/,
    );
    const images = await env.docker(['image', 'inspect', 'failing'], { timeoutMs: TIMEOUT });
    assert.notEqual(images.code, 0);
    assert.equal((await ok('ps', '-aq')).trim(), '');
  });

  it('prints only the image ID with -q', async () => {
    const out = await buildOk([
      '-q',
      '--build-arg',
      'WHO=tests',
      '--label',
      'built.by=berth',
      appDir,
    ]);
    assert.match(out, /^sha256:[0-9a-f]{64}\n$/);
  });

  it('expands an ARG before FROM and re-pulls the base with --pull', async () => {
    const dir = ctx({
      Dockerfile: 'ARG BASE=nope\nFROM ${BASE}\nARG BASE\nRUN echo "from $BASE"\n',
    });
    const out = await buildOk(['--pull', '--build-arg', `BASE=${busybox}`, '-t', 'argbase', dir]);
    assert.match(out, /^Step 1\/4 : ARG BASE=nope$/m);
    assert.match(out, /Digest: sha256:[0-9a-f]{64}/);
    assert.match(out, new RegExp(`^from ${busybox.replace(/[.]/g, '\\.')}$`, 'm'));
  });

  it('refuses ADD of a URL (no network access for builds)', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nADD http://127.0.0.1:1/file /x\n` });
    const r = await build([dir]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /ADD failed: downloading http:\/\/127\.0\.0\.1:1\/file is not supported/,
    );
  });

  it('names a missing COPY source', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nCOPY nope /x\n` });
    const r = await build([dir]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope: file does not exist/,
    );
  });

  it('refuses a context symlink escaping the context and never reads host files', async () => {
    const dir = ctx({ Dockerfile: `FROM ${busybox}\nCOPY escape /x\n` });
    symlinkSync('../../../../../../../../etc/passwd', join(dir, 'escape'));
    const r = await build([dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /COPY failed: forbidden path outside the build context: escape/);

    // An absolute target is taken inside the context, as Docker scopes it: not found there.
    const dir2 = ctx({ Dockerfile: `FROM ${busybox}\nCOPY abs /x\n` });
    symlinkSync('/etc/passwd', join(dir2, 'abs'));
    const r2 = await build([dir2]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /COPY failed: file not found in build context/);
  });

  it('builds with docker-compose v1 `build:`', async (t) => {
    const noCompose = skipUnless(['docker-compose']);
    if (noCompose) return t.skip(noCompose);
    const dir = ctx({
      'svc/Dockerfile': [
        `FROM ${busybox}`,
        'ARG FLAVOUR',
        'RUN echo "$FLAVOUR" > /flavour',
        'CMD ["cat", "/flavour"]',
      ].join('\n'),
      'docker-compose.yml': [
        'version: "3"',
        'services:',
        '  app:',
        '    build:',
        '      context: ./svc',
        '      args:',
        '        FLAVOUR: vanilla',
        '    image: composed-app:1',
        '',
      ].join('\n'),
    });
    const r = await run('docker-compose', ['-p', 'berthbuild', 'build'], {
      cwd: dir,
      env: {
        ...process.env,
        DOCKER_HOST: env.berthd.dockerHost,
        DOCKER_BUILDKIT: '0',
        COMPOSE_DOCKER_CLI_BUILD: '0',
      },
      timeoutMs: TIMEOUT,
    });
    assert.equal(r.code, 0, `docker-compose build\n${r.stdout}\n${r.stderr}`);
    assert.equal(await ok('run', '--rm', 'composed-app:1'), 'vanilla\n');
  });

  it('hides intermediate images unless -a; rmi of the image removes its untagged parents', async () => {
    const dir = ctx({
      Dockerfile: [
        `FROM ${busybox}`,
        'ENV CHAIN=intermediate-test',
        'RUN echo one > /one',
        'RUN echo two > /two',
        'LABEL chain=end',
      ].join('\n'),
    });
    const out = await buildOk(['-t', 'chain:1', dir]);
    const base = (await inspect(busybox)).Id.replace(/^sha256:/, '').slice(0, 12);
    const id = (await inspect('chain:1')).Id.replace(/^sha256:/, '').slice(0, 12);
    const steps = [...out.matchAll(/^ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1] ?? '');
    const intermediates = steps.filter((s) => s !== base && s !== id);
    assert.equal(intermediates.length, 3, out);
    const listed = async (...args: string[]) => (await ok('images', '-q', ...args)).split('\n');
    const shown = await listed();
    assert.ok(shown.includes(id), shown.join(' '));
    for (const i of intermediates) assert.ok(!shown.includes(i), `${i} listed without -a`);
    const all = await listed('-a');
    for (const i of [id, ...intermediates]) assert.ok(all.includes(i), `${i} not listed with -a`);

    const removed = await ok('rmi', 'chain:1');
    for (const i of [id, ...intermediates])
      assert.match(removed, new RegExp(`Deleted: sha256:${i}`));
    const left = await listed('-a');
    for (const i of [id, ...intermediates]) assert.ok(!left.includes(i), `${i} left after rmi`);
    assert.ok(left.includes(base), 'the tagged base image stays');
  });

  it('docker builder prune drops the intermediate images only the cache kept', async () => {
    const before = (await ok('images', '-aq')).trim().split('\n').length;
    await ok('builder', 'prune', '-f');
    const afterCount = (await ok('images', '-aq')).trim().split('\n').length;
    assert.ok(afterCount < before, `${before} → ${afterCount}`);
    assert.equal(await ok('run', '--rm', 'demo:1'), 'built for tests\nhello\n');
  });
});
