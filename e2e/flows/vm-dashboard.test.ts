/**
 * The dashboard over the engine in the Berth VM (QEMU/TCG): the status bar shows the boot's
 * stages and then the running engine; an image is pulled and run with a published port from the
 * UI, and the page answers on the host's 127.0.0.1 (packages/machine forwards it into the VM).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@berth/runtime/testing/process.js';
import { ContainersPage } from '../pages/containers.js';
import { ImagesPage } from '../pages/images.js';
import { pageServed } from '../support/http.js';
import { startVmStack, vmSkip, type VmStack } from '../support/vm-stack.js';

const NAME = 'e2e-vm-web';
const COMMAND = `sh -c "mkdir -p /www; echo page-from-the-vm > /www/index.html; exec httpd -f -p 8080 -h /www"`;

// The guest image is built (or found in the cache) before the flow's clock starts.
const skip = await vmSkip();

describe('e2e: the dashboard over the Berth VM', { skip, timeout: 4 * 60_000 }, () => {
  let stack: VmStack;
  let containers: ContainersPage;
  let images: ImagesPage;
  before(async () => {
    stack = await startVmStack();
    containers = new ContainersPage(stack.page);
    images = new ImagesPage(stack.page);
  });
  after(() => stack?.close());

  it('shows the VM booting stage by stage in the status bar, then the engine running', async () => {
    const bar = stack.page.getByRole('contentinfo');
    const progress = stack.page.getByLabel('Engine start progress');
    await progress.waitFor({ timeout: 120_000 });
    const stageText = progress.locator('xpath=following-sibling::span[1]');
    const stages: string[] = [];
    // Sample the words beside the bar until the engine runs (bounded).
    const deadline = Date.now() + 200_000;
    while (!((await containers.engineState.textContent()) ?? '').includes('Engine running')) {
      assert.ok(Date.now() < deadline, `the engine runs in time; stages: ${stages.join(' | ')}`);
      const stage = await stageText.textContent({ timeout: 1000 }).catch(() => null);
      if (stage && stages.at(-1) !== stage) {
        stages.push(stage);
        if (stages.length === 1) {
          // While the VM boots, the list says it is starting: no connection error.
          await stack.page.getByText('The Berth VM is starting').waitFor({ timeout: 10_000 });
          assert.equal(await stack.page.getByRole('alert').count(), 0);
          await stack.screenshot('vm-booting');
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(stages.length >= 2, `more than one boot stage shown: ${stages.join(' | ')}`);
    assert.match((await bar.textContent()) ?? '', /\(Berth VM\)/);
    // The app's settings reached the machine through Machine.configure() before the boot.
    const applied = stack.machine.settings();
    assert.equal(applied.memoryMiB, 1536);
    assert.equal(applied.insecureRegistries.length, 1);
    await stack.screenshot('vm-running');
  });

  it('pulls an image into the VM and runs it with a published port; the page answers on 127.0.0.1', async () => {
    await images.show();
    const pull = await images.openPull();
    await pull.pull(stack.guestRef);
    await pull.done.waitFor({ timeout: 90_000 });
    await pull.close();
    await images.row(stack.guestRef).waitFor();
    await stack.screenshot('vm-images');

    const port = await freePort();
    await containers.show();
    const run = await containers.openRun();
    await run.fill({ image: stack.guestRef, name: NAME, ports: `${port}:8080`, command: COMMAND });
    await run.submit();
    await run.dialog.waitFor({ state: 'detached', timeout: 90_000 });
    await containers.row(NAME).getByText('running', { exact: true }).waitFor({ timeout: 60_000 });
    const body = await pageServed(port, 'page-from-the-vm', 60_000);
    assert.equal(body.trim(), 'page-from-the-vm');
    await stack.screenshot('vm-containers');
  });
});
