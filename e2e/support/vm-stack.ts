/**
 * The dashboard over the engine in a Berth VM (QEMU with TCG, as on these machines), started the
 * way `npm start` starts it where the engine cannot run natively: startHeadless with a VM plan.
 * The machine lives under a temp HOME; a registry on the host's loopback holds the test image,
 * which the guest reaches through the user-net gateway.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Machine } from '@berth/machine';
import {
  ensureTestGuestImage,
  qemuSkip,
  testGuestImage,
} from '@berth/machine/testing/guest-image.js';
import { QEMU_USER_NET_HOST } from '@berth/vm-image/protocol';
import { startHeadless, type Headless } from '@berth/desktop/headless';
import { startRegistry, type Registry } from '@berth/runtime/testing/registry.js';
import { pushTestImage } from '@berth/runtime/testing/test-images.js';
import { ARTIFACTS, e2eSkip, launchChromium } from './stack.js';

/** Why the VM flow cannot run here (no QEMU, no Chromium…), or false; builds the image first. */
export async function vmSkip(): Promise<string | false> {
  return e2eSkip() || (await ensureTestGuestImage()) || qemuSkip();
}

export interface VmStack {
  berth: Headless;
  machine: Machine;
  registry: Registry;
  /** busybox as the guest names it (`10.0.2.2:PORT/busybox:latest`). */
  guestRef: string;
  browser: Browser;
  page: Page;
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startVmStack(): Promise<VmStack> {
  const home = mkdtempSync(join(tmpdir(), 'berth-e2e-vm-'));
  const registry = await startRegistry();
  const cleanups: (() => Promise<unknown>)[] = [
    () => registry.stop(),
    () => Promise.resolve(rmSync(home, { recursive: true, force: true })),
  ];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const { ref } = await pushTestImage(registry.host, 'busybox');
    const registryPort = registry.host.split(':')[1] ?? '';
    // The app's settings as Settings would save them: the guest may pull from the host's registry.
    const settingsFile = join(home, 'desktop-settings.json');
    writeFileSync(
      settingsFile,
      JSON.stringify({
        cpus: 2,
        memoryMiB: 1536,
        diskGiB: 8,
        sharedFolders: [],
        startAtLogin: false,
        insecureRegistries: [`${QEMU_USER_NET_HOST}:${registryPort}`],
      }),
    );
    // Made ahead only to pin TCG: a KVM guest hangs on these machines, and the bounded probe
    // that finds out would spend the flow's time budget. It starts with the defaults (2 GiB, no
    // insecure registry): the app applies its settings through Machine.configure() at start.
    const machine = new Machine({ root: join(home, '.berth') });
    await machine.init({ image: testGuestImage(), accelerators: ['tcg'], diskGiB: 8 });
    cleanups.push(() => machine.delete());
    const berth = await startHeadless({
      plan: { kind: 'vm', reason: 'e2e' },
      machine,
      settingsFile,
      pollMs: 500,
    });
    cleanups.push(() => berth.close());
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    await page.goto(berth.dashboard.url);
    mkdirSync(ARTIFACTS, { recursive: true });
    return {
      berth,
      machine,
      registry,
      guestRef: ref.replace('127.0.0.1', QEMU_USER_NET_HOST),
      browser,
      page,
      screenshot: async (name) => {
        await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
