/**
 * Build in the dashboard against a real berthd and registry: a folder (a multi-step Dockerfile
 * FROM the test busybox in the loopback registry, a COPY, a RUN, a .dockerignore'd file) is
 * built with its log streaming in, the tag shows in Images, the image runs and its output is
 * read; a failing RUN shows the engine's error (command and exit code) as the docker CLI has it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuildPage } from '../pages/build.js';
import { ImagesPage } from '../pages/images.js';
import { e2eSkip, startStack, type Stack } from '../support/stack.js';

const TAG = 'berth-e2e/built:1.0';

describe('e2e: build', { skip: e2eSkip(), timeout: 420_000 }, () => {
  let stack: Stack;
  let build: BuildPage;
  let folder: string;
  let failing: string;

  before(async () => {
    stack = await startStack();
    build = new BuildPage(stack.page);
    await build.waitEngineRunning();
    const base = stack.env.images.busybox.ref;
    folder = await mkdtemp(join(tmpdir(), 'berth-e2e-build-'));
    await writeFile(
      join(folder, 'Dockerfile'),
      [
        `FROM ${base}`,
        'ARG GREETING=unset',
        'WORKDIR /app',
        'COPY . /app/',
        'RUN echo "made by RUN with $GREETING" > /app/step.txt',
        'CMD ["sh", "-c", "cat /app/hello.txt /app/step.txt; ls -a /app"]',
      ].join('\n') + '\n',
    );
    await writeFile(join(folder, 'hello.txt'), 'hello from the build context\n');
    await writeFile(join(folder, 'secret.txt'), 'must not be sent\n');
    await writeFile(join(folder, '.dockerignore'), 'secret.txt\n');
    failing = await mkdtemp(join(tmpdir(), 'berth-e2e-build-fail-'));
    await writeFile(
      join(failing, 'Dockerfile'),
      `FROM ${base}\nRUN echo about to fail && exit 7\nCMD ["true"]\n`,
    );
  });
  after(async () => {
    await stack?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
    if (failing) await rm(failing, { recursive: true, force: true });
  });

  it('starts with an empty state that says what to do, reachable from the sidebar', async () => {
    await build.show();
    await stack.page.getByRole('heading', { name: 'Nothing built yet' }).waitFor();
    // The dashboard has no native picker: "Choose…" says to type the path and focuses it.
    await build.form.getByRole('button', { name: 'Choose…' }).click();
    await stack.page.getByText(/type or paste the folder/).waitFor();
    assert.equal(
      await stack.page.evaluate(() => document.activeElement?.getAttribute('name')),
      'folder',
    );
    await stack.screenshot('build-empty');
  });

  it('builds a folder, streaming the log, and lists the tag in Images', async () => {
    await build.show();
    await build.build({ folder, tags: [TAG], buildArgs: { GREETING: 'hi-from-ui' } });
    await build.log.getByText(/Step 1\/6 : FROM /).waitFor({ timeout: 120_000 });
    await build.done.or(build.error).first().waitFor({ timeout: 180_000 });
    const log = await build.logText();
    assert.equal(await build.error.count(), 0, `no error; log:\n${log}`);
    assert.match(log, /Step 1\/6 : FROM /);
    assert.match(log, /Step 5\/6 : RUN echo/);
    assert.match(log, / ---> Running in [0-9a-f]{12}/);
    assert.match(log, /Successfully built [0-9a-f]{12}/);
    assert.match(log, /Successfully tagged berth-e2e\/built:1\.0/);
    const shown = (await build.imageId.textContent()) ?? '';
    const inspect = await stack.env.dockerOk(['image', 'inspect', '-f', '{{.Id}}', TAG]);
    assert.equal(
      shown,
      inspect.stdout
        .trim()
        .replace(/^sha256:/, '')
        .slice(0, 12),
    );
    assert.match(log, new RegExp(`Successfully built ${shown}`));
    await stack.screenshot('build-log');

    const images = new ImagesPage(stack.page);
    await images.show();
    await images.row(TAG).waitFor();
    await stack.screenshot('build-images');
  });

  it('runs the built image from the Build view and shows its output', async () => {
    await build.show();
    // The form and the last build are kept while another section was open.
    await build.done.waitFor();
    assert.equal(await build.form.getByLabel('Folder', { exact: true }).inputValue(), folder);
    assert.match(await build.logText(), /Successfully tagged berth-e2e\/built:1\.0/);
    // Built again unchanged: every step comes from the cache.
    await build.buildButton.click();
    await build.log.getByText(/Successfully built/).waitFor({ timeout: 180_000 });
    await build.done.waitFor();
    assert.match(await build.logText(), /---> Using cache/);
    const dialog = await build.run();
    assert.equal(await dialog.getByLabel('Image', { exact: true }).inputValue(), TAG);
    await dialog.getByLabel('Name (optional)').fill('built-e2e');
    await dialog.getByRole('button', { name: 'Run', exact: true }).click();
    await stack.page.waitForURL(/#\/containers\/[0-9a-f]+/);
    const logs = stack.page.getByLabel('Container logs');
    await logs.getByText('hello from the build context').waitFor({ timeout: 60_000 });
    const text = (await logs.textContent()) ?? '';
    assert.match(text, /made by RUN with hi-from-ui/);
    assert.match(text, /hello\.txt/);
    assert.doesNotMatch(text, /secret\.txt/, '.dockerignore kept secret.txt out of the context');
    await stack.screenshot('build-run');
    const ps = await stack.env.dockerOk(['ps', '-a', '--format', '{{.Names}} {{.Image}}']);
    assert.match(ps.stdout, /built-e2e berth-e2e\/built:1\.0/);
  });

  it("a failing RUN shows the engine's error with the command and exit code", async () => {
    const cli = await stack.env.docker(['build', '-t', 'berth-e2e/fails', failing], {
      env: { DOCKER_BUILDKIT: '0' },
      timeoutMs: 180_000,
    });
    assert.notEqual(cli.code, 0);
    await build.show();
    await build.build({ folder: failing, tags: ['berth-e2e/fails-ui'] });
    await build.error.waitFor({ timeout: 180_000 });
    const shown = ((await build.error.textContent()) ?? '').trim();
    assert.equal(
      shown,
      "The command '/bin/sh -c echo about to fail && exit 7' returned a non-zero code: 7",
    );
    assert.ok(cli.stderr.includes(shown), `CLI said: ${cli.stderr}\nUI said: ${shown}`);
    assert.match(await build.logText(), /about to fail/);
    assert.equal(await build.done.count(), 0);
    await stack.screenshot('build-error');
    const images = await stack.env.dockerOk(['images', '--format', '{{.Repository}}']);
    assert.doesNotMatch(images.stdout, /fails/);
  });

  it("cancels a running build: the log stops and the step's container goes", async () => {
    const slow = await mkdtemp(join(tmpdir(), 'berth-e2e-build-slow-'));
    try {
      await writeFile(
        join(slow, 'Dockerfile'),
        `FROM ${stack.env.images.busybox.ref}\nRUN echo sleeping && sleep 120\n`,
      );
      await build.show();
      await build.build({ folder: slow });
      await build.log.getByText(/^sleeping$/m).waitFor({ timeout: 120_000 });
      await build.form.getByRole('button', { name: 'Cancel' }).click();
      await build.error.waitFor({ timeout: 30_000 });
      assert.equal(((await build.error.textContent()) ?? '').trim(), 'The build was cancelled');
      const sleeping = async () =>
        (await stack.env.dockerOk(['ps', '-a', '--no-trunc', '--format', '{{.Command}}'])).stdout
          .split('\n')
          .filter((c) => c.includes('sleep 120'));
      const deadline = Date.now() + 30_000;
      while ((await sleeping()).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await sleeping(), [], 'the engine removed the cancelled step container');
    } finally {
      await rm(slow, { recursive: true, force: true });
    }
  });

  it('refuses a folder that does not exist with a clear message', async () => {
    await build.show();
    await build.build({ folder: join(folder, 'no-such-dir') });
    await build.error.waitFor();
    assert.match((await build.error.textContent()) ?? '', /no-such-dir/);
  });
});
