/**
 * Images in the dashboard against a real berthd and registry: pull with per-layer progress,
 * list, remove; a missing tag shows the registry's error as the engine words it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImagesPage } from '../pages/images.js';
import { e2eSkip, startStack, type Stack } from '../support/stack.js';

describe('e2e: images', { skip: e2eSkip(), timeout: 240_000 }, () => {
  let stack: Stack;
  let images: ImagesPage;
  before(async () => {
    stack = await startStack();
    images = new ImagesPage(stack.page);
    await images.waitEngineRunning();
  });
  after(() => stack?.close());

  it('starts on Containers with the engine running and an empty state that says what to do', async () => {
    const ps = await stack.env.docker(['ps', '-a']);
    if (ps.code === 0)
      await stack.page.getByRole('heading', { name: 'No containers yet' }).waitFor();
    else {
      // An engine without the containers API yet: its own words are shown, not a blank page.
      const shown = (await stack.page.getByRole('alert').first().textContent()) ?? '';
      assert.ok(shown && ps.stderr.includes(shown.trim()), `CLI: ${ps.stderr}\nUI: ${shown}`);
    }
    assert.match((await stack.page.getByRole('contentinfo').textContent()) ?? '', /Engine running/);
    await stack.screenshot('containers-empty');
    await images.show();
    await stack.page.getByRole('heading', { name: 'No images yet' }).waitFor();
    await stack.screenshot('images-empty');
  });

  it('pulls an image showing a progress bar per layer, then lists it', async () => {
    const { ref } = stack.env.images.multilayer;
    await images.show();
    const pull = await images.openPull();
    await pull.pull(ref);
    await pull.done.waitFor();
    assert.equal(await pull.layers.count(), 3, 'one row per layer of the 3-layer image');
    const bars = await pull.progress();
    assert.equal(bars.length, 3);
    for (const bar of bars) {
      assert.match(bar.layer, /^Layer [0-9a-f]{12}$/);
      assert.ok(bar.max > 0 && bar.value === bar.max, `complete bar: ${JSON.stringify(bar)}`);
    }
    assert.match((await pull.layers.allTextContents()).join('\n'), /Pull complete/);
    assert.match(
      (await pull.dialog.getByLabel('Pull messages').textContent()) ?? '',
      /Digest: sha256:/,
    );
    await stack.screenshot('pull-dialog');
    await pull.close();
    await images.row(ref).waitFor();
    assert.match((await images.row(ref).textContent()) ?? '', /\d+(\.\d)? (B|kB|MB)/);
    await stack.screenshot('images');
  });

  it("a pull of a missing tag shows the registry's error with the engine's text", async () => {
    const missing = `${stack.env.images.busybox.repository}:no-such-tag`;
    const cli = await stack.env.docker(['pull', missing]);
    assert.notEqual(cli.code, 0);
    await images.show();
    const pull = await images.openPull();
    await pull.pull(missing);
    await pull.error.waitFor();
    const shown = (await pull.error.textContent()) ?? '';
    assert.match(shown, /no-such-tag/);
    assert.match(shown, /not found|unknown/i);
    // The same words the docker CLI prints after "Error response from daemon: ".
    assert.ok(cli.stderr.includes(shown.trim()), `CLI said: ${cli.stderr}\nUI said: ${shown}`);
    await stack.screenshot('pull-error');
    await pull.close();
  });

  it('is reachable by keyboard: Tab to "Pull image", Enter opens the dialog, Escape closes it', async () => {
    const page = stack.page;
    await images.show();
    await page.locator('body').click({ position: { x: 5, y: 700 } });
    let focused = '';
    for (let i = 0; i < 12 && focused !== 'Pull image'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    }
    assert.equal(focused, 'Pull image');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Pull an image' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'image');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('removes the image', async () => {
    const { ref } = stack.env.images.multilayer;
    await images.show();
    await images.remove(ref);
    await images.row(ref).waitFor({ state: 'detached' });
    const cli = await stack.env.dockerOk(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.doesNotMatch(cli.stdout, /multilayer/);
  });
});
