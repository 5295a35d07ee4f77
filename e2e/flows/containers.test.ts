/**
 * Containers in the dashboard against a real berthd: run an image from the Run dialog with a
 * published port and fetch its page, read its logs, inspect it, stop and remove it, then
 * remove the image.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, waitFor } from '@berth/runtime/testing/process.js';
import { ContainersPage } from '../pages/containers.js';
import { ImagesPage } from '../pages/images.js';
import { e2eSkip, engineLacks, startStack, type Stack } from '../support/stack.js';

const NAME = 'e2e-web';
// busybox's httpd serves a page and the shell prints a line for the logs first.
const COMMAND = `sh -c "echo hello from berth; mkdir -p /www; echo page-ok > /www/index.html; exec httpd -f -v -p 8080 -h /www"`;

describe('e2e: containers', { skip: e2eSkip(), timeout: 300_000 }, () => {
  let stack: Stack;
  let containers: ContainersPage;
  let port: number;
  let started = false;
  before(async () => {
    stack = await startStack({ colorScheme: 'dark' });
    containers = new ContainersPage(stack.page);
    await containers.waitEngineRunning();
    port = await freePort();
  });
  after(() => stack?.close());

  it('runs an image with a published port from the Run dialog; the page answers', async (t) => {
    const ps = await stack.env.docker(['ps']);
    if (ps.code !== 0) return t.skip(`the engine cannot list containers yet: ${ps.stderr.trim()}`);
    const { ref } = stack.env.images.busybox;
    const run = await containers.openRun();
    await run.fill({
      image: ref,
      name: NAME,
      ports: `${port}:8080`,
      env: ['GREETING=hi there'],
      command: COMMAND,
      volumes: ['e2e-web-data:/data'],
      restart: 'unless-stopped',
    });
    assert.equal(
      await run.commandLine.textContent(),
      `docker run -d --name ${NAME} -p ${port}:8080 -e 'GREETING=hi there' -v e2e-web-data:/data --restart unless-stopped ${ref} sh -c 'echo hello from berth; mkdir -p /www; echo page-ok > /www/index.html; exec httpd -f -v -p 8080 -h /www'`,
    );
    await stack.screenshot('run-dialog');
    await run.submit();
    await run.dialog.waitFor({ state: 'detached', timeout: 120_000 });
    const row = containers.row(NAME);
    await row.getByText('running', { exact: true }).waitFor();
    const link = row.getByRole('link', { name: `Open port ${port} in the browser` });
    assert.equal(await link.getAttribute('href'), `http://localhost:${port}/`);
    let body = '';
    await waitFor(
      `the page on port ${port}`,
      async () => {
        body = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.text(),
          () => '',
        );
        return body.includes('page-ok');
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    await stack.screenshot('containers');
    const inspect = await stack.env.dockerOk([
      'inspect',
      '-f',
      '{{.HostConfig.RestartPolicy.Name}} {{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}',
      NAME,
    ]);
    assert.equal(inspect.stdout.trim(), 'unless-stopped e2e-web-data:/data');
    started = true;
  });

  it('shows the logs and the inspect fields', async (t) => {
    if (!started) return t.skip('no container was started');
    const detail = await containers.openDetail(NAME);
    await detail.logs.getByText('hello from berth').waitFor();
    await fetch(`http://127.0.0.1:${port}/index.html`).then((r) => r.text());
    // httpd -v logs each request on stderr: the followed stream shows it as it happens.
    await detail.logs
      .getByText(/response:200/)
      .first()
      .waitFor({ timeout: 15_000 });
    await stack.screenshot('container-logs');
    await detail.tab('Inspect');
    await stack.page.getByRole('listitem').filter({ hasText: 'GREETING=hi there' }).waitFor();
    await stack.page.getByText('Raw JSON').click();
    assert.match(
      (await stack.page.getByLabel('Raw inspect JSON').textContent()) ?? '',
      /"Id": "[0-9a-f]{64}"/,
    );
    await stack.screenshot('container-inspect');
    await detail.back();
  });

  it('opens a terminal in the container: typed keys run in its shell', async (t) => {
    if (!started) return t.skip('no container was started');
    const lacks = await engineLacks(stack, ['exec', NAME, 'true']);
    if (lacks) return t.skip(lacks);
    const detail = await containers.openDetail(NAME);
    await detail.tab('Terminal');
    await detail.typeInTerminal('echo hello-$((1+1))');
    // The typed line shows `$((1+1))`; only the shell's output says hello-2.
    await detail.terminal.getByText('hello-2', { exact: true }).waitFor({ timeout: 30_000 });
    // The TTY has the pane's size (`stty size` → "rows cols"), and follows the window.
    const sizes = async () =>
      (await detail.terminal.locator('.xterm-rows > div').allTextContents())
        .map((l) => l.trim())
        .filter((l) => /^\d+\s\d+$/.test(l));
    await detail.typeInTerminal('stty size');
    await waitFor('stty size', async () => (await sizes()).length === 1, { timeoutMs: 15_000 });
    await stack.screenshot('container-terminal');
    const rowsOnScreen = () => detail.terminal.locator('.xterm-rows > div').count();
    const rowsBefore = await rowsOnScreen();
    await stack.page.setViewportSize({ width: 900, height: 600 });
    // The pane refits to the window (and tells the engine) before the next keys.
    await waitFor('the terminal to refit', async () => (await rowsOnScreen()) !== rowsBefore, {
      timeoutMs: 10_000,
    });
    await detail.typeInTerminal('stty size');
    await waitFor('a second stty size', async () => (await sizes()).length === 2, {
      timeoutMs: 15_000,
    });
    const [before, after] = await sizes();
    assert.notEqual(after, before, 'a smaller window, a smaller TTY');
    await stack.page.setViewportSize({ width: 1180, height: 760 });
    await detail.back();
  });

  it("charts the container's CPU, memory and network", async (t) => {
    if (!started) return t.skip('no container was started');
    const lacks = await engineLacks(stack, ['stats', '--no-stream', NAME]);
    if (lacks) return t.skip(lacks);
    const detail = await containers.openDetail(NAME);
    // From Logs to Stats by keyboard: Logs → Inspect → Stats.
    await detail.arrowToTab(2);
    await stack.page.getByRole('tab', { name: 'Stats', selected: true }).waitFor();
    // A few samples (one a second) draw the lines; some requests move the network line.
    await detail.chart('CPU').waitFor({ timeout: 30_000 });
    for (let i = 0; i < 20; i++) {
      await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 100));
    }
    await stack.page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.chart polyline')).filter(
          (l) => (l.getAttribute('points') ?? '').split(' ').length >= 5,
        ).length >= 3,
      undefined,
      { timeout: 30_000 },
    );
    assert.match((await detail.chart('Memory').getAttribute('aria-label')) ?? '', /\d/);
    await stack.screenshot('container-stats');
    await detail.back();
  });

  it('stops and removes the container, then removes the image', async (t) => {
    if (!started) return t.skip('no container was started');
    await containers.stop(NAME);
    await containers.row(NAME).getByText('exited', { exact: true }).waitFor({ timeout: 30_000 });
    await containers.remove(NAME);
    await containers.row(NAME).waitFor({ state: 'detached' });
    const ps = await stack.env.dockerOk(['ps', '-a', '--format', '{{.Names}}']);
    assert.doesNotMatch(ps.stdout, new RegExp(NAME));
    const images = new ImagesPage(stack.page);
    await images.show();
    const { ref } = stack.env.images.busybox;
    await images.remove(ref);
    await images.row(ref).waitFor({ state: 'detached' });
  });
});
